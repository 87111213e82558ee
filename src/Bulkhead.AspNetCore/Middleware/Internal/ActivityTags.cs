using System.Diagnostics;
using Bulkhead.Telemetry.Internal;

namespace Bulkhead.AspNetCore.Middleware.Internal;

/// <summary>What the middleware tells the request's <see cref="Activity"/>: the same names as the metrics' tags.</summary>
internal static class ActivityTags
{
    public const string WorkloadClass = WorkloadIsolationMetrics.ClassTag;
    public const string Result = WorkloadIsolationMetrics.ResultTag;
    public const string RejectionReason = WorkloadIsolationMetrics.ReasonTag;
    public const string QueueDuration = "bulkhead.queue.duration";
    public const string Partition = "bulkhead.partition";

    /// <summary>Tags how admission ended and how long the request waited for it, in seconds.</summary>
    public static void Decided(Activity activity, WorkloadLease lease, TimeSpan waited)
    {
        activity.SetTag(Result, lease.IsAcquired ? "admitted" : "rejected");
        activity.SetTag(QueueDuration, waited.TotalSeconds);
        if (lease.RejectionReason is { } reason)
        {
            activity.SetTag(RejectionReason, WorkloadIsolationMetrics.ReasonName(reason));
        }
    }
}

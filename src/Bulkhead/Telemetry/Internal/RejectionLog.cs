using Bulkhead.Admission.Internal;
using Microsoft.Extensions.Logging;

namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// Logs a class's rejections as a summary, never one line per rejection: a Warning a second after a class starts
/// rejecting (how many, why), another every ten seconds while it goes on (for how long), and an Information line when a
/// whole period passed without one. The admission path only arms a timer, once per episode; every line is written on
/// the timer, outside the engine's lock.
/// </summary>
internal sealed partial class RejectionLog : IDisposable
{
    public static readonly TimeSpan FirstReportAfter = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);

    private static readonly WorkloadRejectionReason[] s_reasons = Enum.GetValues<WorkloadRejectionReason>();

    private readonly ClassState _class;
    private readonly Lock _lock = new();
    private readonly long[] _reported = new long[s_reasons.Length];
    private readonly long[] _episodeStart = new long[s_reasons.Length];
    private ITimer? _timer;
    private int _armed;
    private long _startedAt;
    private long _reportedAt;
    private bool _disposed;

    public RejectionLog(ClassState workloadClass) => _class = workloadClass;

    /// <summary>Called after a rejection is counted: starts an episode unless one is under way.</summary>
    public void OnRejection()
    {
        if (Volatile.Read(ref _armed) == 0 && Interlocked.CompareExchange(ref _armed, 1, 0) == 0)
        {
            Start();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private void Start()
    {
        TimeProvider time = _class.Engine.TimeProvider;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            // The episode counts from before the rejection that started it.
            long now = time.GetTimestamp();
            (_startedAt, _reportedAt) = (now, now);
            for (int i = 0; i < s_reasons.Length; i++)
            {
                _reported[i] = _episodeStart[i] = Volatile.Read(ref _class.RejectedByReason[i]);
            }

            AdjustForFirst();
            _timer ??= time.CreateTimer(static state => ((RejectionLog)state!).ReportGuarded(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(FirstReportAfter, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The rejection that armed the log was counted before it: the episode starts one lower on some reason.</summary>
    private void AdjustForFirst()
    {
        for (int i = 0; i < s_reasons.Length; i++)
        {
            if (_reported[i] > 0)
            {
                _reported[i]--;
                _episodeStart[i]--;
                return;
            }
        }
    }

    private void ReportGuarded() => _class.Engine.TimerFaults.Run("rejection log", static state => ((RejectionLog)state!).Report(), this);

    private void Report()
    {
        TimeProvider time = _class.Engine.TimeProvider;
        ILogger logger = _class.Engine.Logger;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            long now = time.GetTimestamp();
            long[] counts = new long[s_reasons.Length];
            for (int i = 0; i < s_reasons.Length; i++)
            {
                counts[i] = Volatile.Read(ref _class.RejectedByReason[i]);
            }

            long recent = Delta(counts, _reported);
            if (recent > 0)
            {
                if (_class.Limits.Observes)
                {
                    LogWouldReject(logger, _class.Name, recent, time.GetElapsedTime(_reportedAt, now), Describe(counts, _reported), time.GetElapsedTime(_startedAt, now));
                }
                else
                {
                    LogRejecting(logger, _class.Name, recent, time.GetElapsedTime(_reportedAt, now), Describe(counts, _reported), time.GetElapsedTime(_startedAt, now));
                }

                Array.Copy(counts, _reported, counts.Length);
                _reportedAt = now;
                _timer!.Change(ReportEvery, Timeout.InfiniteTimeSpan);
                return;
            }

            LogStopped(logger, _class.Name, Delta(counts, _episodeStart), time.GetElapsedTime(_startedAt, _reportedAt), Describe(counts, _episodeStart));
            Volatile.Write(ref _armed, 0);
        }

        // A rejection counted after the last read but before the log was disarmed would wait for the next one to be
        // reported: look once more.
        if (Delta(_class.RejectedByReason, _reported) > 0)
        {
            OnRejection();
        }
    }

    private static long Delta(long[] now, long[] before)
    {
        long total = 0;
        for (int i = 0; i < before.Length; i++)
        {
            total += Volatile.Read(ref now[i]) - before[i];
        }

        return total;
    }

    private static string Describe(long[] now, long[] before) =>
        string.Join(", ", s_reasons.Where(r => now[(int)r] > before[(int)r]).Select(r => $"{WorkloadIsolationMetrics.ReasonName(r)}: {now[(int)r] - before[(int)r]}"));

    [LoggerMessage(50, LogLevel.Warning, "Workload class '{WorkloadClass}' rejected {Count} unit(s) of work in the last {Period} ({Reasons}); it has been rejecting for {Duration}.")]
    private static partial void LogRejecting(ILogger logger, string workloadClass, long count, TimeSpan period, string reasons, TimeSpan duration);

    [LoggerMessage(52, LogLevel.Warning, "Workload class '{WorkloadClass}' is in Observe mode and would have rejected {Count} unit(s) of work in the last {Period} ({Reasons}); it would have been rejecting for {Duration}. All were admitted.")]
    private static partial void LogWouldReject(ILogger logger, string workloadClass, long count, TimeSpan period, string reasons, TimeSpan duration);

    [LoggerMessage(51, LogLevel.Information, "Workload class '{WorkloadClass}' stopped rejecting: {Count} unit(s) of work rejected over {Duration} ({Reasons}).")]
    private static partial void LogStopped(ILogger logger, string workloadClass, long count, TimeSpan duration, string reasons);
}

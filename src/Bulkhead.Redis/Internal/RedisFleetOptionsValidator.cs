using Microsoft.Extensions.Options;

namespace Bulkhead.Redis.Internal;

/// <summary>Checks the fleet options at start, every problem at once.</summary>
internal sealed class RedisFleetOptionsValidator : IValidateOptions<RedisFleetOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisFleetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> failures = [];
        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            failures.Add("RedisFleet: KeyPrefix is empty; it is required.");
        }

        if (options.ExpectedReplicas < 1)
        {
            failures.Add($"RedisFleet: ExpectedReplicas ({options.ExpectedReplicas}) must be at least 1.");
        }

        if (options.MaxBatchSize < 1)
        {
            failures.Add($"RedisFleet: MaxBatchSize ({options.MaxBatchSize}) must be at least 1.");
        }

        if (!Enum.IsDefined(options.Fallback))
        {
            failures.Add($"RedisFleet: Fallback ({options.Fallback}) must be LocalShare, FailClosed or Strict.");
        }

        foreach ((string setting, TimeSpan value, TimeSpan least) in (ReadOnlySpan<(string, TimeSpan, TimeSpan)>)[
            ("BatchInterval", options.BatchInterval, TimeSpan.FromMilliseconds(1)),
            ("SeatLeaseTime", options.SeatLeaseTime, TimeSpan.FromMilliseconds(100)),
            ("OperationTimeout", options.OperationTimeout, TimeSpan.FromMilliseconds(1)),
            ("BreakDuration", options.BreakDuration, TimeSpan.FromMilliseconds(500))])
        {
            if (value < least || value > TimeSpan.FromHours(1))
            {
                failures.Add($"RedisFleet: {setting} ({value}) must be at least {least.TotalMilliseconds} ms and at most an hour.");
            }
        }

        // A replica uses a seat in the first half of its lease and renews it every batch interval.
        if (options.SeatLeaseTime <= options.BatchInterval * 2)
        {
            failures.Add($"RedisFleet: SeatLeaseTime ({options.SeatLeaseTime}) must be longer than twice BatchInterval ({options.BatchInterval}): a replica uses its seats only in the first half of their lease and renews them every BatchInterval.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

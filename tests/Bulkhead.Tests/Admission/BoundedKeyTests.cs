using Bulkhead.Admission.Internal;
using Bulkhead.Weights.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Bulkhead.Tests.Admission;

public sealed class BoundedKeyTests
{
    [Fact]
    public void For_KeyUpToTheLimit_IsKeptAsItIs_ALongerOneAsItsPrefixLengthAndHash()
    {
        string limit = new('k', BoundedKey.MaxLength);
        string longer = limit + "x";

        Assert.Same(limit, BoundedKey.For(limit));
        Assert.Equal(string.Empty, BoundedKey.For(null));
        string bounded = BoundedKey.For(longer);
        Assert.StartsWith(new string('k', BoundedKey.PrefixLength), bounded, StringComparison.Ordinal);
        Assert.Contains($"[{longer.Length}#", bounded, StringComparison.Ordinal);
        Assert.True(bounded.Length < 100, bounded);
        Assert.Equal(bounded, BoundedKey.For(longer));                                    // the same key, the same partition
        Assert.NotEqual(bounded, BoundedKey.For(limit + "y"));                              // another key, another partition
        Assert.Equal(bounded, BoundedKey.For(bounded));                                   // bounded twice changes nothing
    }

    [Fact]
    public void Engine_TenThousandDistinct8KiBKeys_CostWhatShortKeysCost()
    {
        // 10,000 distinct 8 KiB keys through a per-partition rate limit and a partition-limited queue once left
        // +158 MiB: every store kept each key whole.
        var time = new FakeTimeProvider();
        var options = new WorkloadIsolationOptions { TotalConcurrency = 4, DefaultClass = "tenants" };
        options.AddClass("tenants", c =>
        {
            c.MaxConcurrencyPerPartition = 1;
            c.RateLimit = new WorkloadRateLimitOptions { PermitsPerSecond = 1, Burst = 1, PerPartition = true };
            c.LearnedWeight = new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10), MaxWeight = 2 };
        });
        using var scheduler = new WorkloadScheduler(options, time);
        WorkloadClass tenants = scheduler.GetClass("tenants");
        long before = GC.GetTotalMemory(forceFullCollection: true);

        for (int i = 0; i < 10_000; i++)
        {
            string key = i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture) + new string('k', 8184);
            using WorkloadLease lease = tenants.TryAcquire(new WorkloadRequest(key) { CostKey = key });
            Assert.True(lease.IsAcquired);
        }

        long grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(grown < 40 * 1024 * 1024, $"{grown / (1024 * 1024)} MiB kept for 10,000 keys");
        Assert.Equal(LearnedWeights.MaxKeys, scheduler.GetSnapshot()["tenants"].LearnedWeights.Count);
        GC.KeepAlive(scheduler);
    }

    [Fact]
    public async Task LearnedWeights_KeysRacingToBeAdded_NeverExceedTheCap()
    {
        // The cap was checked before adding: units racing at its edge could add one key more (1,025 of 1,024).
        var options = new WorkloadLearnedWeightOptions { SeatTime = TimeSpan.FromMilliseconds(10) };
        for (int round = 0; round < 200; round++)
        {
            var learned = new LearnedWeights();
            for (int i = 0; i < LearnedWeights.MaxKeys - 2; i++)
            {
                learned.Record($"kind-{i}", TimeSpan.FromMilliseconds(5), options);
            }

            using var start = new Barrier(4);
            await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                start.SignalAndWait();
                for (int i = 0; i < 4; i++)
                {
                    learned.Record($"racer-{t}-{i}", TimeSpan.FromMilliseconds(5), options);
                }
            }))).WithTimeout();

            Assert.Equal(LearnedWeights.MaxKeys, learned.Snapshot(options).Count);
        }
    }
}

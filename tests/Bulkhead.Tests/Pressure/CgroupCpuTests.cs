using Bulkhead.Pressure.Internal;

namespace Bulkhead.Tests.Pressure;

/// <summary>The CPU the process may use: its processors, or its control group's quota when less (cgroup v2 and v1, nested groups).</summary>
public sealed class CgroupCpuTests
{
    [Theory]
    [InlineData("150000 100000", 1.5)]
    [InlineData("max 100000", null)]
    [InlineData("50000 100000\n", 0.5)]
    [InlineData("", null)]
    [InlineData("garbage", null)]
    [InlineData("-1 100000", null)]
    public void V2Quota(string cpuMax, double? expected) => Assert.Equal(expected, CgroupCpu.V2Quota(cpuMax));

    [Theory]
    [InlineData("200000", "100000", 2.0)]
    [InlineData("-1", "100000", null)]
    [InlineData("50000\n", "100000\n", 0.5)]
    [InlineData(null, "100000", null)]
    public void V1Quota(string? quota, string period, double? expected) => Assert.Equal(expected, CgroupCpu.V1Quota(quota, period));

    [Fact]
    public void V2_AContainersOwnGroup_ItsQuotaWhenLessThanTheProcessors()
    {
        var files = new Dictionary<string, string> { ["/proc/self/cgroup"] = "0::/\n", ["/sys/fs/cgroup/cpu.max"] = "150000 100000\n" };
        Assert.Equal(1.5, CgroupCpu.Capacity(4, files.GetValueOrDefault));
        Assert.Equal(1.0, CgroupCpu.Capacity(1, files.GetValueOrDefault));
    }

    [Fact]
    public void V2_NestedGroups_TheSmallestQuotaOnTheWayToTheRoot()
    {
        var files = new Dictionary<string, string>
        {
            ["/proc/self/cgroup"] = "0::/kubepods/pod1/app\n",
            ["/sys/fs/cgroup/kubepods/pod1/app/cpu.max"] = "max 100000",
            ["/sys/fs/cgroup/kubepods/pod1/cpu.max"] = "75000 100000",
            ["/sys/fs/cgroup/kubepods/cpu.max"] = "300000 100000",
        };
        Assert.Equal(0.75, CgroupCpu.Capacity(8, files.GetValueOrDefault));
    }

    [Fact]
    public void V1_TheCpuControllersQuota()
    {
        var files = new Dictionary<string, string>
        {
            ["/proc/self/cgroup"] = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n",
            ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"] = "250000",
            ["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us"] = "100000",
        };
        Assert.Equal(2.5, CgroupCpu.Capacity(8, files.GetValueOrDefault));
    }

    [Fact]
    public void NoGroupOrNoQuota_TheProcessors()
    {
        Assert.Equal(6, CgroupCpu.Capacity(6, _ => null));
        var files = new Dictionary<string, string> { ["/proc/self/cgroup"] = "0::/user.slice\n", ["/sys/fs/cgroup/user.slice/cpu.max"] = "max 100000" };
        Assert.Equal(6, CgroupCpu.Capacity(6, files.GetValueOrDefault));
    }

    [Fact]
    public void ThisProcess_ReadsACapacityAndAPressure()
    {
        double capacity = CgroupCpu.Capacity();
        Assert.InRange(capacity, 0.01, Environment.ProcessorCount);

        var probe = new PressureProbe();
        GC.Collect();
        PressureSample sample = probe.Read();
        Assert.InRange(sample.Cpu, 0, 1);
        Assert.InRange(sample.Memory, 0, 1);
        Assert.True(sample.MemoryLimitBytes > 0, "after a collection the GC says what it may commit");
        Assert.True(sample.Memory > 0, "the heap holds this test's objects");
        Assert.Equal(capacity, sample.CpuCapacity);
    }
}

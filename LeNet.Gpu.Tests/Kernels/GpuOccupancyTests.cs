using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>The occupancy model and the ptxas -v reader, on inputs whose answers are worked out by hand.</summary>
public sealed class GpuOccupancyTests
{
    [Theory]
    // 127 registers → 128 × 32 = 4,096 per warp → 4 warps per sub-partition, 16 per SM → 2 groups of 7 warps.
    [InlineData("sm_90", 127, 47808, 224, 2, 14 / 64.0, "registers")]
    // 48,896 + 1,024 reserved = 49,920 B per group → 233,472 / 49,920 → 4 groups of 4 warps.
    [InlineData("sm_90", 44, 48896, 128, 4, 16 / 64.0, "shared memory")]
    // On an A100 (164 KB per SM) the same kernel fits 3 groups.
    [InlineData("sm_80", 44, 48896, 128, 3, 12 / 64.0, "shared memory")]
    // Few registers, no shared memory: 2 groups of 1,024 threads fill the SM.
    [InlineData("sm_90", 32, 0, 1024, 2, 1.0, "threads")]
    // Tiny groups: the 32-groups-per-SM cap.
    [InlineData("sm_90", 16, 0, 32, 32, 0.5, "groups")]
    public void CountsGroupsLikeTheOccupancyCalculator(string architecture, int registers, int shared, int group,
        int expectedGroups, double expectedOccupancy, string expectedLimit)
    {
        var limits = GpuLimits.Of(architecture);
        var (groups, limitedBy) = limits.GroupsPerSm(registers, shared, group);
        Assert.Equal(expectedGroups, groups);
        Assert.Equal(expectedLimit, limitedBy);
        Assert.Equal(expectedOccupancy, limits.Occupancy(registers, shared, group), 9);
    }

    [Fact]
    public void TheBestGroupSizeIsTheLargestWithTheMostResidentThreads()
    {
        Assert.Equal(1024, GpuLimits.Sm90.BestGroupSize(32, 0));
        // 128 registers: 16 warps per SM at most, so 512 threads in one group (or 2 × 256) are the best; the largest wins.
        Assert.Equal(512, GpuLimits.Sm90.BestGroupSize(128, 0));
    }

    [Fact]
    public void ReadsPtxasVerboseOutput()
    {
        const string text = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Function properties for helper
                8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
            ptxas info    : Used 20 registers, 384 bytes cmem[0]
            ptxas info    : Compiling entry function 'Kernel' for 'sm_90'
            ptxas info    : Function properties for Kernel
                0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 56 registers, 33440 bytes smem, 400 bytes cmem[0]
            """;
        var functions = PtxAssembler.Parse(text);
        Assert.Equal(2, functions.Count);
        Assert.Equal(new PtxasFunction("helper", false, 20, 0, 8, 4, 4), functions[0]);
        Assert.Equal(new PtxasFunction("Kernel", true, 56, 33440, 0, 0, 0), functions[1]);
    }

    [Theory]
    [InlineData(118, 78)]
    [InlineData(120, 80)]
    [InlineData(126, 85)]
    [InlineData(128, 87)]
    [InlineData(129, 88)]
    [InlineData(130, 90)]
    public void KnowsWhichIsaEachPtxasAccepts(int cudaRelease, int isa) => Assert.Equal(isa, PtxAssembler.MaxIsaOf(cudaRelease));
}

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// Theoretical occupancy of a kernel on one SM, the way NVIDIA's occupancy calculator (cuda_occupancy.h) counts it:
/// the fewest groups allowed by threads, groups, registers (allocated per warp in units of 256, in four SM
/// sub-partitions) and shared memory (1 KB reserved per group, allocated in 128-byte units, at the largest carveout).
/// </summary>
public sealed record GpuLimits(string Architecture, int SharedPerSm, int MaxWarpsPerSm, int MaxGroupsPerSm)
{
    public const int RegistersPerSm = 65536, SubPartitions = 4, RegisterUnit = 256, WarpSize = 32;
    public const int StaticSharedPerGroup = 48 * 1024, ReservedSharedPerGroup = 1024, SharedUnit = 128;

    /// <summary>A100 (sm_80): 164 KB of shared memory per SM; H100/H200 (sm_90): 228 KB. Both 64 warps, 32 groups.</summary>
    public static readonly GpuLimits Sm80 = new("sm_80", 164 * 1024, 64, 32);
    public static readonly GpuLimits Sm90 = new("sm_90", 228 * 1024, 64, 32);

    public static GpuLimits Of(string architecture) => architecture switch
    {
        "sm_80" => Sm80,
        "sm_90" => Sm90,
        _ => throw new ArgumentException($"no limits for {architecture}"),
    };

    /// <summary>Groups per SM and what limits them, for <paramref name="groupSize"/> threads per group.</summary>
    public (int Groups, string LimitedBy) GroupsPerSm(int registers, int sharedBytes, int groupSize)
    {
        int warps = (groupSize + WarpSize - 1) / WarpSize;
        var limits = new List<(int Groups, string Name)>
        {
            (MaxWarpsPerSm / warps, "threads"),
            (MaxGroupsPerSm, "groups"),
        };
        if (registers > 0)
        {
            int perWarp = RoundUp(registers * WarpSize, RegisterUnit);
            int warpsByRegisters = RegistersPerSm / SubPartitions / perWarp * SubPartitions;
            limits.Add((warpsByRegisters / warps, "registers"));
        }
        limits.Add((SharedPerSm / (RoundUp(sharedBytes, SharedUnit) + ReservedSharedPerGroup), "shared memory"));
        var least = limits.MinBy(l => l.Groups);
        return (least.Groups, least.Name);
    }

    /// <summary>Resident warps ÷ the SM's maximum, for <paramref name="groupSize"/> threads per group.</summary>
    public double Occupancy(int registers, int sharedBytes, int groupSize) =>
        (double)GroupsPerSm(registers, sharedBytes, groupSize).Groups * ((groupSize + WarpSize - 1) / WarpSize) / MaxWarpsPerSm;

    /// <summary>
    /// The group size an auto-grouped launch gets on CUDA (ILGPU asks the driver's cuOccupancyMaxPotentialBlockSize):
    /// the largest multiple of 32 up to 1,024 with the most resident threads.
    /// </summary>
    public int BestGroupSize(int registers, int sharedBytes)
    {
        int best = WarpSize, bestThreads = 0;
        for (int size = WarpSize; size <= 1024; size += WarpSize)
        {
            int threads = GroupsPerSm(registers, sharedBytes, size).Groups * size;
            if (threads >= bestThreads) (best, bestThreads) = (size, threads);
        }
        return best;
    }

    private static int RoundUp(int value, int unit) => (value + unit - 1) / unit * unit;
}

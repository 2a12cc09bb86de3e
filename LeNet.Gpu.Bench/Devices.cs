using BenchmarkDotNet.Running;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Bench;

/// <summary>The accelerator kinds present on this machine: every benchmark runs on each of them.</summary>
public static class Devices
{
    /// <summary>Comma-separated device names (cuda, opencl, ilgpu-cpu) that limit <see cref="Present"/>; unset: all.</summary>
    public const string EnvironmentVariable = "LENET_BENCH_DEVICES";

    public static IEnumerable<DeviceKind> Present()
    {
        var present = LeNetAccelerator.ListDevices().Select(d => d.Kind).Distinct();
        var wanted = Wanted();
        return wanted.Count == 0 ? present : present.Where(wanted.Contains);
    }

    /// <summary>The kinds <see cref="EnvironmentVariable"/> names; empty when it is unset (all).</summary>
    public static IReadOnlySet<DeviceKind> Wanted()
    {
        var only = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(only)
            ? new HashSet<DeviceKind>()
            : only.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(DeviceKindExtensions.ParseDeviceKind).ToHashSet();
    }
}

/// <summary>What the benchmark classes' case filters share: reading a case's parameters, and which batches a device runs.</summary>
public static class CaseFilter
{
    /// <summary>The value of the case's parameter <paramref name="name"/>, or null if it has none.</summary>
    public static object? Value(BenchmarkCase c, string name) => c.Parameters.Items.FirstOrDefault(p => p.Name == name)?.Value;

    /// <summary>
    /// ILGPU's CPU accelerator, which simulates every GPU thread, runs only <paramref name="cpuBatch"/> (or up to it,
    /// with <paramref name="cpuUpTo"/>); a GPU runs batches from <paramref name="minGpuBatch"/> whose buffers,
    /// <paramref name="bytesPerImage"/> each, fit in half its memory.
    /// </summary>
    public static bool BatchRuns(DeviceKind kind, int batch, int cpuBatch, int minGpuBatch, long bytesPerImage, bool cpuUpTo = false,
        [System.Runtime.CompilerServices.CallerFilePath] string caller = "")
    {
        if (kind is DeviceKind.IlgpuCpu or DeviceKind.Cpu) return cpuUpTo ? batch <= cpuBatch : batch == cpuBatch;
        if (batch < minGpuBatch) return false;
        var device = LeNetAccelerator.ListDevices().FirstOrDefault(d => d.Kind == kind);
        if (device is not null && device.Processor != ProcessorType.Gpu && batch > SlowDeviceMaxBatch)
        {
            Skipped($"{Path.GetFileNameWithoutExtension(caller)}: batch {batch:N0} skipped on {device} (not a GPU: a " +
                $"per-layer call at that batch takes tens of seconds there; batches up to {SlowDeviceMaxBatch:N0} run)");
            return false;
        }
        return device is null || (long)batch * bytesPerImage <= device.MemoryBytes / 2;
    }

    /// <summary>
    /// The largest batch a device that is not a GPU (PoCL's CPU device) runs: per-layer forward at 16,384 takes about
    /// 35 s a call there on two cores, and BenchmarkDotNet gives up on a case (aborting the whole run) that slow.
    /// </summary>
    public const int SlowDeviceMaxBatch = 1024;

    private static readonly HashSet<string> said = [];

    /// <summary>Says once on stderr which case was left out and why (BenchmarkDotNet asks the filters several times).</summary>
    private static void Skipped(string line)
    {
        lock (said)
            if (said.Add(line)) Console.Error.WriteLine($"bench: {line}");
    }
}

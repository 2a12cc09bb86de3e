using LeNet.Gpu.Runtime;

namespace LeNet.Gpu.Bench;

/// <summary>The accelerator kinds present on this machine: every benchmark runs on each of them.</summary>
public static class Devices
{
    /// <summary>Comma-separated device names (cuda, opencl, ilgpu-cpu) that limit <see cref="Present"/>; unset: all.</summary>
    public const string EnvironmentVariable = "LENET_BENCH_DEVICES";

    public static IEnumerable<DeviceKind> Present()
    {
        var present = LeNetAccelerator.ListDevices().Select(d => d.Kind).Distinct();
        var only = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(only)) return present;
        var wanted = only.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(DeviceKindExtensions.ParseDeviceKind).ToHashSet();
        return present.Where(wanted.Contains);
    }
}

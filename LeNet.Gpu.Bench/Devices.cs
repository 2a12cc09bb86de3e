using LeNet.Gpu.Runtime;

namespace LeNet.Gpu.Bench;

/// <summary>The accelerator kinds present on this machine: every benchmark runs on each of them.</summary>
public static class Devices
{
    public static IEnumerable<DeviceKind> Present() =>
        LeNetAccelerator.ListDevices().Select(d => d.Kind).Distinct();
}

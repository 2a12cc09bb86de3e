using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Tests.Support;

/// <summary>The devices ILGPU finds on this machine, asked once.</summary>
public static class Devices
{
    private static readonly Lazy<IReadOnlyList<DeviceDescription>> present = new(LeNetAccelerator.ListDevices);

    public static IReadOnlyList<DeviceDescription> Present => present.Value;

    public static bool Has(DeviceKind kind) => Present.Any(d => d.Kind == kind);

    public static string List => Present.Count == 0 ? "none" : string.Join("; ", Present);
}

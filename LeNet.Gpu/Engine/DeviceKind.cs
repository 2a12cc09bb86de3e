namespace LeNet.Gpu.Engine;

/// <summary>
/// Which engine to run on. <see cref="Auto"/> takes CUDA, then OpenCL, then the CPU engine.
/// <see cref="Cpu"/> is the vectorised, multithreaded CPU engine (<c>LeNet.Gpu.Cpu</c>);
/// <see cref="IlgpuCpu"/> is ILGPU's CPU accelerator, which simulates GPU threads: the kernels' test backend.
/// </summary>
public enum DeviceKind { Auto, Cuda, OpenCL, Cpu, IlgpuCpu }

/// <summary>What a device is, in the words a user needs to pick one.</summary>
public sealed record DeviceDescription(DeviceKind Kind, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize)
{
    public override string ToString() =>
        $"{Kind.ToName()}: {Name} ({MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB, warp {WarpSize}, max group {MaxGroupSize})";
}

public static class DeviceKindExtensions
{
    /// <summary>The environment variable that chooses the device when the caller leaves it at auto.</summary>
    public const string EnvironmentVariable = "LENET_DEVICE";

    public static string ToName(this DeviceKind kind) => kind switch
    {
        DeviceKind.Auto => "auto",
        DeviceKind.Cuda => "cuda",
        DeviceKind.OpenCL => "opencl",
        DeviceKind.Cpu => "cpu",
        DeviceKind.IlgpuCpu => "ilgpu-cpu",
        _ => kind.ToString(),
    };

    public static DeviceKind ParseDeviceKind(string text) => Model.EnumNames.Parse(text, "device",
        ("auto", DeviceKind.Auto), ("cuda", DeviceKind.Cuda), ("opencl", DeviceKind.OpenCL), ("cpu", DeviceKind.Cpu),
        ("ilgpu-cpu", DeviceKind.IlgpuCpu), ("", DeviceKind.Auto), ("cl", DeviceKind.OpenCL));

    /// <summary>An explicit choice wins; otherwise <c>LENET_DEVICE</c>; otherwise auto.</summary>
    public static DeviceKind Resolve(DeviceKind requested)
    {
        if (requested != DeviceKind.Auto) return requested;
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text)) return DeviceKind.Auto;
        try { return ParseDeviceKind(text); }
        catch (ArgumentException e) { throw new ArgumentException($"{EnvironmentVariable}: {e.Message}"); }
    }
}

/// <summary>
/// The requested device is not present; the message says why (<see cref="Ilgpu.DriverDiagnosis"/>: which driver library
/// was looked for and what failed) and lists the devices that are.
/// </summary>
public sealed class DeviceNotFoundException(DeviceKind requested, IReadOnlyList<DeviceDescription> present, string? reason = null)
    : Exception($"no {requested.ToName()} device found" + (reason is null ? "" : $": {reason}") + "; present: " +
                (present.Count == 0 ? "none" : string.Join("; ", present)))
{
    public DeviceKind Requested { get; } = requested;

    /// <summary>Why the driver offered no device, when known.</summary>
    public string? Reason { get; } = reason;
}

namespace LeNet.Gpu.Engine;

/// <summary>
/// Which engine to run on. <see cref="Auto"/> takes CUDA, then an OpenCL GPU, then the CPU engine.
/// <see cref="Cpu"/> is the vectorised, multithreaded CPU engine (<c>LeNet.Gpu.Cpu</c>);
/// <see cref="IlgpuCpu"/> is ILGPU's CPU accelerator, which simulates GPU threads: the kernels' test backend.
/// </summary>
public enum DeviceKind { Auto, Cuda, OpenCL, Cpu, IlgpuCpu }

/// <summary>What a device's cores are: auto only ever picks a GPU, or else the CPU engine.</summary>
public enum ProcessorType { Gpu, Cpu, Other }

/// <summary>
/// What a device is, in the words a user needs to pick one. <see cref="WarpSize"/> is what ILGPU reports (0 for
/// PoCL's CPU device); no launch size is derived from it.
/// </summary>
public sealed record DeviceDescription(DeviceKind Kind, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize)
{
    /// <summary>CUDA devices are GPUs; an OpenCL device is what its driver says; both CPU kinds are CPUs.</summary>
    public ProcessorType Processor { get; init; } =
        Kind is DeviceKind.Cpu or DeviceKind.IlgpuCpu ? ProcessorType.Cpu : ProcessorType.Gpu;

    public override string ToString() =>
        $"{Kind.ToName()}: {Name} ({Processor.ToName()}, {MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB, warp {WarpSize}, max group {MaxGroupSize})";
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

    public static string ToName(this ProcessorType type) => type switch
    {
        ProcessorType.Gpu => "GPU",
        ProcessorType.Cpu => "CPU",
        _ => "other",
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

/// <summary>
/// The device's driver failed in the middle of a run: the message names the device, the step and the driver's error
/// (an OpenCL or CUDA error code where there is one), in one line.
/// </summary>
public sealed class DeviceFailureException(DeviceDescription device, string step, string driverError, Exception inner)
    : Exception($"{device.Kind.ToName()} device '{device.Name}' failed during {step}: {driverError}", inner)
{
    public DeviceDescription Device { get; } = device;
    public string Step { get; } = step;
}

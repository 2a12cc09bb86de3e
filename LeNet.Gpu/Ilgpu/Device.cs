using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// The device-agnostic accelerator: an ILGPU accelerator chosen from the process's one ILGPU context (CUDA, OpenCL
/// and CPU devices registered; the same context lists the devices), and the LeNet kernels loaded on it once. Every
/// ILGPU engine runs on one of these; the CPU engine (<see cref="DeviceKind.Cpu"/>) runs on none.
/// </summary>
public sealed class LeNetAccelerator : IDisposable
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public DeviceDescription Description { get; }
    public DeviceKind Kind => Description.Kind;

    private LeNetKernels? kernels;

    /// <summary>The kernels, compiled and loaded on first use, then reused by every engine on this accelerator.</summary>
    public LeNetKernels Kernels => kernels ??= new LeNetKernels(Accelerator);

    private FusedLaunches? fusedKernels;

    /// <summary>The fused inference kernels, compiled and loaded on first use (only the fused path needs them).</summary>
    public FusedLaunches FusedKernels => fusedKernels ??= new FusedLaunches(Accelerator);

    private LeNetAccelerator(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
        Description = Describe(accelerator.Device);
    }

    /// <summary>
    /// Opens the requested ILGPU device (<see cref="DeviceKind.Auto"/>: <c>LENET_DEVICE</c>, else CUDA → an OpenCL
    /// GPU → ILGPU's CPU accelerator, which is <see cref="DeviceKind.IlgpuCpu"/>; an OpenCL device of CPU type only when
    /// asked for by name). <see cref="DeviceKind.Cpu"/> is the CPU
    /// engine, not an ILGPU device, and is refused (<see cref="Engines"/> chooses between the engines).
    /// <paramref name="cpuKind"/> picks the CPU accelerator's simulated GPU; tests use
    /// <see cref="CPUDeviceKind.Nvidia"/> (warp 32, groups up to 1,024).
    /// </summary>
    public static LeNetAccelerator Create(DeviceKind requested = DeviceKind.Auto, CPUDeviceKind cpuKind = CPUDeviceKind.Default)
    {
        var kind = DeviceKindExtensions.Resolve(requested);
        if (kind == DeviceKind.Cpu)
            throw new ArgumentException((requested == DeviceKind.Auto ? $"{DeviceKindExtensions.EnvironmentVariable}=cpu" : "device cpu") +
                " is the CPU engine, not an ILGPU device: open it through Engines (CreateInference, CreateTrainer), or ask for ILGPU's CPU accelerator as ilgpu-cpu");
        var context = SharedContext(cpuKind);
        // The message lists the ILGPU devices present; the factory's (Engines) adds the CPU engine.
        var device = Pick(context, kind)
            ?? throw new DeviceNotFoundException(kind, ListDevices(), DriverDiagnosis.Explain(kind));
        return new LeNetAccelerator(context, device.CreateAccelerator(context));
    }

    /// <summary>Every ILGPU device here: CUDA, then OpenCL (GPUs first), then ILGPU's CPU accelerator.</summary>
    public static IReadOnlyList<DeviceDescription> ListDevices() => ListDevices(SharedContext(CPUDeviceKind.Default));

    private static readonly ConcurrentDictionary<CPUDeviceKind, Lazy<Context>> Contexts = new();

    /// <summary>
    /// The process's ILGPU context (one per simulated CPU kind; the default one serves every real device): created on
    /// first use, shared by probing and by every accelerator, and kept for the life of the process, since each
    /// context probes the drivers again and holds its own compiler state.
    /// </summary>
    private static Context SharedContext(CPUDeviceKind cpuKind) =>
        Contexts.GetOrAdd(cpuKind, kind => new Lazy<Context>(() => CreateContext(kind))).Value;

    private static Context CreateContext(CPUDeviceKind cpuKind)
    {
        // Before ILGPU first touches a driver: find libcuda.so.1 / libOpenCL.so.1 where the unversioned names are missing.
        DriverLibraries.Register();
        return Context.Create(builder => builder
            .Cuda()
            .OpenCL()
            .CPU(cpuKind)
            .EnableAlgorithms()
            .Math(MathMode.Default));
    }

    private static IReadOnlyList<DeviceDescription> ListDevices(Context context) =>
        Ordered(context).Select(Describe).ToList();

    private static IEnumerable<Device> Ordered(Context context) =>
        OfType(context, AcceleratorType.Cuda)
            .Concat(OfType(context, AcceleratorType.OpenCL))
            .Concat(OfType(context, AcceleratorType.CPU));

    /// <summary>The devices of one ILGPU type, GPUs first (OpenCL also lists CPUs and other accelerators).</summary>
    private static IEnumerable<Device> OfType(Context context, AcceleratorType type) =>
        context.Devices.Where(d => d.AcceleratorType == type).OrderBy(d => ProcessorOf(d) == ProcessorType.Gpu ? 0 : 1);

    private static Device? Pick(Context context, DeviceKind kind) => kind switch
    {
        // A CPU-type OpenCL device (PoCL) runs the kernels far slower than the CPU engine on the same cores.
        DeviceKind.Auto => Ordered(context).FirstOrDefault(d => d.AcceleratorType == AcceleratorType.CPU || ProcessorOf(d) == ProcessorType.Gpu),
        DeviceKind.Cuda => OfType(context, AcceleratorType.Cuda).FirstOrDefault(),
        DeviceKind.OpenCL => OfType(context, AcceleratorType.OpenCL).FirstOrDefault(),
        DeviceKind.IlgpuCpu => OfType(context, AcceleratorType.CPU).FirstOrDefault(),
        _ => null,
    };

    private static DeviceDescription Describe(Device device)
    {
        var kind = device.AcceleratorType switch
        {
            AcceleratorType.Cuda => DeviceKind.Cuda,
            AcceleratorType.OpenCL => DeviceKind.OpenCL,
            _ => DeviceKind.IlgpuCpu,
        };
        long memory = kind == DeviceKind.IlgpuCpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : device.MemorySize;
        string name = kind == DeviceKind.IlgpuCpu ? $"ILGPU CPU accelerator, simulated GPU threads ({Environment.ProcessorCount} cores)" : device.Name;
        return new DeviceDescription(kind, name, memory, device.WarpSize, device.MaxNumThreadsPerGroup) { Processor = ProcessorOf(device) };
    }

    private static ProcessorType ProcessorOf(Device device) => device switch
    {
        CLDevice cl when cl.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_GPU) => ProcessorType.Gpu,
        CLDevice cl when cl.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_CPU) => ProcessorType.Cpu,
        CLDevice => ProcessorType.Other,
        _ when device.AcceleratorType == AcceleratorType.Cuda => ProcessorType.Gpu,
        _ => ProcessorType.Cpu,
    };

    /// <summary>
    /// Runs <paramref name="work"/>, one step of a run on this device. A driver error in it (ILGPU's
    /// <see cref="AcceleratorException"/>: a failed launch, copy or synchronisation) becomes a
    /// <see cref="DeviceFailureException"/> that names the device and the step.
    /// </summary>
    public T Step<T>(string step, Func<T> work)
    {
        try
        {
            FaultInjection?.Invoke(step);
            return work();
        }
        catch (AcceleratorException e) { throw DeviceFailures.Of(Description, step, e); }
    }

    /// <inheritdoc cref="Step{T}"/>
    public void Step(string step, Action work) => Step(step, () => { work(); return 0; });

    /// <summary>
    /// For the tests: called with the step's name as each step starts, before its first launch; an ILGPU exception it
    /// throws stands for the driver failing at that launch.
    /// </summary>
    internal Action<string>? FaultInjection { get; set; }

    /// <summary>Disposes the accelerator; the shared context stays for the next one.</summary>
    public void Dispose() => Accelerator.Dispose();
}

/// <summary>The ILGPU side of <see cref="DeviceFailureException"/>: the driver's error in words (its code where it has one).</summary>
internal static class DeviceFailures
{
    public static DeviceFailureException Of(DeviceDescription device, string step, AcceleratorException driverError) =>
        new(device, step, driverError switch
        {
            CLException cl => $"OpenCL error {cl.Error}",
            CudaException cuda => $"CUDA error {cuda.Error}: {cuda.Message}",
            _ => driverError.Message,
        }, driverError);
}

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
    /// Opens the requested ILGPU device (<see cref="DeviceKind.Auto"/>: <c>LENET_DEVICE</c>, else CUDA → OpenCL →
    /// ILGPU's CPU accelerator), which is <see cref="DeviceKind.IlgpuCpu"/>. <see cref="DeviceKind.Cpu"/> is the CPU
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

    /// <summary>Every ILGPU device here: CUDA, then OpenCL, then ILGPU's CPU accelerator.</summary>
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

    private static IEnumerable<Device> OfType(Context context, AcceleratorType type) =>
        context.Devices.Where(d => d.AcceleratorType == type);

    private static Device? Pick(Context context, DeviceKind kind) => kind switch
    {
        DeviceKind.Auto => Ordered(context).FirstOrDefault(),
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
        return new DeviceDescription(kind, name, memory, device.WarpSize, device.MaxNumThreadsPerGroup);
    }

    /// <summary>Disposes the accelerator; the shared context stays for the next one.</summary>
    public void Dispose() => Accelerator.Dispose();
}

using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu;

/// <summary>
/// The one place that turns a <see cref="DeviceKind"/> into an engine: CUDA and OpenCL devices and ILGPU's CPU
/// accelerator run the ILGPU kernels; <see cref="DeviceKind.Cpu"/> runs the vectorised CPU engine. Auto (after
/// <c>LENET_DEVICE</c>) takes what is fastest: CUDA, then an OpenCL GPU, then the CPU engine. An OpenCL device of
/// CPU type (PoCL) runs only when asked for: the CPU engine is about two orders of magnitude faster on the same cores.
/// </summary>
public static class Engines
{
    /// <summary>
    /// Every engine available here: those auto may pick, in its order (CUDA, OpenCL GPUs, the CPU engine), then the
    /// others (OpenCL devices that are not GPUs, ILGPU's CPU accelerator).
    /// </summary>
    public static IReadOnlyList<DeviceDescription> List()
    {
        var ilgpu = LeNetAccelerator.ListDevices();
        return ilgpu.Where(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL && d.Processor == ProcessorType.Gpu)
            .Append(CpuInferenceEngine.Describe(new CpuNetwork(1)))
            .Concat(ilgpu.Where(d => d.Kind == DeviceKind.OpenCL && d.Processor != ProcessorType.Gpu))
            .Concat(ilgpu.Where(d => d.Kind == DeviceKind.IlgpuCpu))
            .ToList();
    }

    /// <summary>What <see cref="DeviceKind.Auto"/> means here (after <c>LENET_DEVICE</c>): a GPU kind, or the CPU engine.</summary>
    public static DeviceKind Resolve(DeviceKind requested)
    {
        var kind = DeviceKindExtensions.Resolve(requested);
        if (kind != DeviceKind.Auto) return kind;
        var gpu = LeNetAccelerator.ListDevices().FirstOrDefault(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL && d.Processor == ProcessorType.Gpu);
        return gpu?.Kind ?? DeviceKind.Cpu;
    }

    /// <summary>Why no device of a GPU kind is present (which driver library was looked for, what failed); null for other kinds.</summary>
    public static string? WhyNone(DeviceKind kind) => DriverDiagnosis.Explain(kind);

    public static DeviceDescription AutoChoice()
    {
        var kind = Resolve(DeviceKind.Auto);
        return List().First(d => d.Kind == kind);
    }

    /// <summary>Why auto did not pick <paramref name="device"/> (one line), or null for the one it picks.</summary>
    public static string? WhyNotPicked(DeviceDescription device, DeviceDescription? auto)
    {
        if (device == auto) return null;
        if (device.Kind == DeviceKind.IlgpuCpu)
            return "never picked by auto: it simulates every GPU thread in .NET, for testing the kernels (ask for it with --device ilgpu-cpu)";
        if (device.Kind == DeviceKind.OpenCL && device.Processor != ProcessorType.Gpu)
            return $"an OpenCL device of {device.Processor.ToName()} type: the CPU engine is far faster on the same cores (ask for it with --device opencl)";
        return auto is null
            ? $"auto picks nothing while {DeviceKindExtensions.EnvironmentVariable} is invalid"
            : $"auto prefers {auto.Kind.ToName()} ({auto.Name}): CUDA, then an OpenCL GPU, then the CPU engine";
    }

    /// <summary>Batch inference of <paramref name="model"/> on the chosen engine (which it owns).</summary>
    public static IInferenceEngine CreateInference(LeNetModel model, DeviceKind device = DeviceKind.Auto, int batchCapacity = 0)
    {
        var kind = Resolve(device);
        return kind == DeviceKind.Cpu
            ? new CpuInferenceEngine(model, batchCapacity)
            : IlgpuInferenceEngine.Owning(Open(kind), model, _ => batchCapacity);
    }

    /// <summary>
    /// Batch inference sized to the work at hand: batches of at most <paramref name="images"/> (the engine's default
    /// batch when that is smaller), so classifying a few pictures takes a few pictures' memory, not a device-sized batch.
    /// </summary>
    public static IInferenceEngine CreateInferenceFor(LeNetModel model, int images, DeviceKind device = DeviceKind.Auto)
    {
        if (images < 1) throw new ArgumentOutOfRangeException(nameof(images), images, "an engine is sized for at least one image");
        var kind = Resolve(device);
        return kind == DeviceKind.Cpu
            ? new CpuInferenceEngine(model, Math.Min(images, CpuInferenceEngine.DefaultCapacity))
            : IlgpuInferenceEngine.Owning(Open(kind), model, d => Math.Min(images, IlgpuInferenceEngine.DefaultCapacity(d)));
    }

    /// <summary>A trainer on the chosen engine; for an ILGPU kind it opens the accelerator and owns it, as an inference engine does.</summary>
    public static Trainer CreateTrainer(DeviceKind device, LeNetModel model, TrainingOptions options, float[] images, int[] labels)
    {
        var kind = Resolve(device);
        return kind == DeviceKind.Cpu
            ? CreateCpuTrainer(model, options, images, labels)
            : Trainer.Owning(Open(kind), accelerator => CreateTrainer(accelerator, model, options, images, labels));
    }

    /// <summary>Trains on an open ILGPU accelerator (CUDA, OpenCL or ILGPU's CPU accelerator), which the caller keeps.</summary>
    /// <param name="images">Training images [n][32·32] in the model's input scale.</param>
    /// <param name="labels">Their classes, 0–9.</param>
    public static Trainer CreateTrainer(LeNetAccelerator accelerator, LeNetModel model, TrainingOptions options, float[] images, int[] labels) =>
        new(model, options, images, labels, n => new IlgpuTrainingBackend(accelerator, model, options, images, labels, n));

    /// <summary>Trains on the CPU engine (vectorised, multithreaded; <paramref name="threads"/> 0: one per processor).</summary>
    public static Trainer CreateCpuTrainer(LeNetModel model, TrainingOptions options, float[] images, int[] labels, int threads = 0) =>
        new(model, options, images, labels, n => new CpuTrainingBackend(model, options, images, labels, n, threads));

    /// <summary>
    /// A trainer continuing from <paramref name="checkpoint"/> on the chosen engine (see <see cref="CreateTrainer(DeviceKind, LeNetModel, TrainingOptions, float[], int[])"/>);
    /// the options and data must be those of the original run.
    /// </summary>
    /// <exception cref="ResumeMismatchException">The checkpoint was written with other settings or data (<see cref="RunSettings"/>).</exception>
    public static Trainer ResumeTrainer(DeviceKind device, TrainingCheckpoint checkpoint, TrainingOptions options, float[] images, int[] labels)
    {
        var kind = Resolve(device);
        return kind == DeviceKind.Cpu
            ? ResumeCpuTrainer(checkpoint, options, images, labels)
            : Trainer.Owning(Open(kind), accelerator => ResumeTrainer(accelerator, checkpoint, options, images, labels));
    }

    /// <summary>Continues a run from a checkpoint on an open ILGPU accelerator (same options and data as the original run).</summary>
    public static Trainer ResumeTrainer(LeNetAccelerator accelerator, TrainingCheckpoint checkpoint, TrainingOptions options,
        float[] images, int[] labels) =>
        Trainer.Restored(CreateTrainer(accelerator, checkpoint.Model, options, images, labels), checkpoint);

    /// <summary>Continues on the CPU engine from a checkpoint (same options and data as the original run).</summary>
    public static Trainer ResumeCpuTrainer(TrainingCheckpoint checkpoint, TrainingOptions options, float[] images, int[] labels, int threads = 0) =>
        Trainer.Restored(CreateCpuTrainer(checkpoint.Model, options, images, labels, threads), checkpoint);

    /// <summary>
    /// The engine that checks a model file as it loads (<see cref="Serialization.ModelFile"/>): the CPU engine on one
    /// thread, which needs no device and gives the same outputs everywhere.
    /// </summary>
    internal static IInferenceEngine CreateChecking(LeNetModel model, int images) => new CpuInferenceEngine(model, images, threads: 1);

    /// <summary>An ILGPU accelerator of <paramref name="kind"/>; when none is present, the message lists every engine a user could pick instead, the CPU engine included.</summary>
    private static LeNetAccelerator Open(DeviceKind kind)
    {
        try { return LeNetAccelerator.Create(kind); }
        catch (DeviceNotFoundException e) { throw new DeviceNotFoundException(e.Requested, List(), e.Reason); }
    }
}

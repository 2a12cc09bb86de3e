using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Model;

using static LeNet.Gpu.Model.Architecture;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Batch inference of one model on one ILGPU accelerator. Parameters go to the device once; images stream through in
/// batches of <see cref="BatchCapacity"/> and are never copied back between layers. Two paths (<see cref="Path"/>):
/// <list type="bullet">
/// <item><see cref="InferencePath.PerLayer"/>: each batch is prepared on the device (transpose, or the paper's padding
/// and scaling of 28×28 bytes), then one kernel per layer (<see cref="ForwardPass"/>).</item>
/// <item><see cref="InferencePath.Fused"/>: three fused kernels read the images as they come (floats or bytes) and
/// keep C1 and C3 on chip (<see cref="FusedForwardPass"/>); two batches are in flight on two streams with pinned host
/// buffers (<see cref="FusedPipeline"/>).</item>
/// </list>
/// The default is fused on CUDA and OpenCL devices and per-layer on ILGPU's CPU accelerator, which simulates every
/// GPU thread and makes every group barrier expensive (see kernels.md). <see cref="Trace"/> always runs the per-layer
/// path, since only it keeps every layer's output.
/// </summary>
public sealed class IlgpuInferenceEngine : IInferenceEngine
{
    private readonly LeNetAccelerator accelerator;
    private readonly bool ownsAccelerator;
    private readonly DeviceParameters parameters;
    private readonly int capacity;
    private readonly FusedPipeline? fused;
    // The per-layer path's buffers: allocated at once on that path, on the first Trace on the fused path.
    private ForwardPass? pass;
    private MemoryBuffer1D<float, Stride1D.Dense>? floatStaging;
    private MemoryBuffer1D<byte, Stride1D.Dense>? byteStaging;
    private readonly AcceleratorStream stream;

    public DeviceDescription Device => accelerator.Description;
    public int BatchCapacity => capacity;
    public Squashing Squashing => parameters.Squashing;

    /// <summary>The forward pass <see cref="Predict"/> and <see cref="PredictMnist"/> run.</summary>
    public InferencePath Path { get; }

    /// <param name="batchCapacity">Images per device batch; 0 picks one from the device's memory.</param>
    /// <param name="path">Per-layer or fused; null: <see cref="DefaultPath"/> of the device.</param>
    public IlgpuInferenceEngine(LeNetModel model, LeNetAccelerator accelerator, int batchCapacity = 0, InferencePath? path = null)
        : this(model, accelerator, batchCapacity, path, ownsAccelerator: false) { }

    /// <summary>Opens the ILGPU device (auto: <c>LENET_DEVICE</c>, else CUDA → an OpenCL GPU → ILGPU's CPU accelerator) and owns it.
    /// <see cref="DeviceKind.Cpu"/>, the CPU engine, is not one (<see cref="Engines.CreateInference"/> opens it).</summary>
    public static IlgpuInferenceEngine Create(LeNetModel model, DeviceKind device = DeviceKind.Auto, int batchCapacity = 0, InferencePath? path = null)
    {
        var accelerator = LeNetAccelerator.Create(device);
        return Owning(accelerator, model, _ => batchCapacity, path);
    }

    /// <summary>An engine that owns <paramref name="accelerator"/> (disposed with it, or at once if the engine cannot be
    /// built); <paramref name="batchCapacity"/> picks the batch from the device.</summary>
    internal static IlgpuInferenceEngine Owning(LeNetAccelerator accelerator, LeNetModel model, Func<DeviceDescription, int> batchCapacity,
        InferencePath? path = null)
    {
        try { return new IlgpuInferenceEngine(model, accelerator, batchCapacity(accelerator.Description), path, ownsAccelerator: true); }
        catch { accelerator.Dispose(); throw; }
    }

    private IlgpuInferenceEngine(LeNetModel model, LeNetAccelerator accelerator, int batchCapacity, InferencePath? path, bool ownsAccelerator)
    {
        if (batchCapacity < 0) throw new ArgumentOutOfRangeException(nameof(batchCapacity), batchCapacity, "batch capacity must be positive (or 0 for automatic)");
        this.accelerator = accelerator;
        this.ownsAccelerator = ownsAccelerator;
        var a = accelerator.Accelerator;
        capacity = batchCapacity > 0 ? batchCapacity : DefaultCapacity(accelerator.Description);
        Path = path ?? DefaultPath(accelerator.Description);
        stream = a.DefaultStream;
        parameters = new DeviceParameters(a, model.AsSoftmaxEquivalent());
        try
        {
            // Compile now, not inside the first timed batch.
            if (Path == InferencePath.Fused)
            {
                fused = new FusedPipeline(a, capacity);
                _ = accelerator.FusedKernels;
            }
            else
            {
                PerLayerPass();
                _ = accelerator.Kernels;
            }
        }
        catch
        {
            DisposeBuffers();
            throw;
        }
    }

    /// <summary>Fused on CUDA and OpenCL GPUs; per-layer on ILGPU's CPU accelerator (see the class summary).</summary>
    public static InferencePath DefaultPath(DeviceDescription device) =>
        device.Kind is DeviceKind.Cuda or DeviceKind.OpenCL ? InferencePath.Fused : InferencePath.PerLayer;

    /// <summary>A batch that fills a quarter of a GPU's memory (at most 65,536); 1,024 on the CPU accelerator.</summary>
    public static int DefaultCapacity(DeviceDescription device)
    {
        if (device.Kind == DeviceKind.IlgpuCpu) return 1024;
        // Sized for the per-layer path, the larger of the two (the fused path's two slots need about 2 × 11 KB per
        // image, the per-layer path about 40 KB), so a fused engine can still trace a full batch.
        long bytesPerImage = (ForwardPass.FloatsPerImage + Architecture.InputLength) * sizeof(float) + InputField.MnistLength;
        return (int)Math.Clamp(device.MemoryBytes / 4 / bytesPerImage, 1, 65536);
    }

    private ForwardPass PerLayerPass()
    {
        if (pass is not null) return pass;
        var a = accelerator.Accelerator;
        floatStaging = a.Allocate1D<float>((long)capacity * Architecture.InputLength);
        byteStaging = a.Allocate1D<byte>((long)capacity * InputField.MnistLength);
        return pass = new ForwardPass(a, capacity);
    }

    /// <summary>Replaces the parameters on the device (same squashing function; C1 and C3 as the model has them).</summary>
    public void Load(LeNetModel model)
    {
        if (model.Squashing != parameters.Squashing)
            throw new ArgumentException($"engine was built for {parameters.Squashing.ToName()} squashing, model uses {model.Squashing.ToName()}");
        parameters.Upload(model.AsSoftmaxEquivalent().Parameters, model.Convolutions);
    }

    /// <summary>Classifies float images [n][32·32], row-major, already in the model's input scale.</summary>
    public Prediction Predict(ReadOnlySpan<float> images) =>
        Run(images, [], IInferenceEngine.CountImages(images.Length, Architecture.InputLength, "float 32×32 images"));

    /// <summary>Classifies raw 28×28 bytes [n][784] (MNIST layout, 0 = background), padded and scaled on the device.</summary>
    public Prediction PredictMnist(ReadOnlySpan<byte> images) =>
        Run([], images, IInferenceEngine.CountImages(images.Length, InputField.MnistLength, "28×28 byte images"));

    /// <summary>One of <paramref name="floats"/> and <paramref name="bytes"/> holds the n images.</summary>
    private Prediction Run(ReadOnlySpan<float> floats, ReadOnlySpan<byte> bytes, int n)
    {
        string step = $"{(fused is not null ? "fused" : "per-layer")} inference of {n} {(bytes.IsEmpty ? "float" : "byte")} images in batches of {capacity}";
        try
        {
            var inject = accelerator.FaultInjection;
            Action<int>? beforeBatch = inject is null ? null : batch => inject($"{step}, batch {batch + 1}");
            return fused is not null
                ? fused.Run(accelerator.FusedKernels, parameters, floats, bytes, n, beforeBatch)
                : RunPerLayer(floats, bytes, n, beforeBatch);
        }
        catch (AcceleratorException e) { throw DeviceFailures.Of(accelerator.Description, step, e); }
    }

    private Prediction RunPerLayer(ReadOnlySpan<float> floats, ReadOnlySpan<byte> bytes, int n, Action<int>? beforeBatch = null)
    {
        var pass = PerLayerPass();
        var probabilities = new float[(long)n * Classes];
        var classes = new int[n];
        var k = accelerator.Kernels;
        for (int first = 0; first < n; first += pass.Capacity)
        {
            beforeBatch?.Invoke(first / pass.Capacity);
            int count = Math.Min(pass.Capacity, n - first);
            if (bytes.IsEmpty)
            {
                floatStaging!.View.SubView(0, (long)count * Architecture.InputLength)
                    .CopyFromCPU(stream, floats.Slice(first * Architecture.InputLength, count * Architecture.InputLength));
                pass.LoadInput(k, stream, floatStaging.View, count);
            }
            else
            {
                byteStaging!.View.SubView(0, (long)count * InputField.MnistLength)
                    .CopyFromCPU(stream, bytes.Slice(first * InputField.MnistLength, count * InputField.MnistLength));
                pass.LoadInput(k, stream, byteStaging.View, count);
            }
            pass.Run(k, stream, parameters, count);
            pass.Probabilities.View.SubView(0, (long)count * Classes).CopyToCPU(stream, probabilities.AsSpan(first * Classes, count * Classes));
            pass.Predictions.View.SubView(0, count).CopyToCPU(stream, classes.AsSpan(first, count));
        }
        stream.Synchronize();
        return new Prediction(probabilities, classes);
    }

    /// <summary>Every layer's output for up to <see cref="BatchCapacity"/> float images, read back image-major (per-layer path).</summary>
    public LayerOutputs Trace(ReadOnlySpan<float> images)
    {
        int n = IInferenceEngine.CountImages(images.Length, Architecture.InputLength, "float 32×32 images");
        if (n > capacity) throw new ArgumentException($"trace takes at most {capacity} images, got {n}");
        string step = $"tracing every layer of {n} images";
        try
        {
            accelerator.FaultInjection?.Invoke(step);
            return TraceOnDevice(images, n);
        }
        catch (AcceleratorException e) { throw DeviceFailures.Of(accelerator.Description, step, e); }
    }

    private LayerOutputs TraceOnDevice(ReadOnlySpan<float> images, int n)
    {
        var prediction = RunPerLayer(images, [], n);
        var pass = this.pass!;
        float[] Read(Layer layer)
        {
            var all = pass.OutputOf(layer).GetAsArray1D();
            int per = Architecture.ElementsOf(layer);
            var result = new float[n * per];
            for (int image = 0; image < n; image++)
                for (int e = 0; e < per; e++)
                    result[image * per + e] = all[(long)e * pass.Capacity + image];
            return result;
        }
        return LayerOutputs.FromLayers(n, Architecture.Layers.Select(l => Read(l.Layer)).ToList(),
            prediction.Probabilities, prediction.Classes);
    }

    private void DisposeBuffers()
    {
        fused?.Dispose();
        pass?.Dispose();
        floatStaging?.Dispose();
        byteStaging?.Dispose();
        parameters.Dispose();
    }

    public void Dispose()
    {
        DisposeBuffers();
        if (ownsAccelerator) accelerator.Dispose();
    }
}

using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Batch inference on the CPU engine (<see cref="CpuNetwork"/>): the same contract as the ILGPU engine. Images
/// stream through in batches of <see cref="BatchCapacity"/>, written straight into the caller's result arrays.
/// </summary>
public sealed class CpuInferenceEngine : IInferenceEngine
{
    private readonly CpuNetwork network;
    private float[] parameters;

    public DeviceDescription Device { get; }
    public int BatchCapacity => network.Capacity;
    public Squashing Squashing { get; }

    /// <summary>
    /// Largest batch held at once; larger requests stream in batches of this size. Throughput is flat well below it
    /// (tiles of 16 images), and it keeps the activation buffer (every layer's output, 9,118 floats an image) well under
    /// the 2^31 elements a .NET array may hold.
    /// </summary>
    public const int MaxCapacity = 65536;

    /// <summary>The batch when none is asked for.</summary>
    public const int DefaultCapacity = 1024;

    /// <param name="batchCapacity">Images per batch (at most <see cref="MaxCapacity"/>, larger is capped); 0 for <see cref="DefaultCapacity"/>.</param>
    /// <param name="threads">Worker threads; 0 for one per processor.</param>
    public CpuInferenceEngine(LeNetModel model, int batchCapacity = 0, int threads = 0)
    {
        if (batchCapacity < 0) throw new ArgumentOutOfRangeException(nameof(batchCapacity), batchCapacity, "batch capacity must be positive (or 0 for automatic)");
        network = new CpuNetwork(batchCapacity == 0 ? DefaultCapacity : Math.Min(batchCapacity, MaxCapacity), threads);
        Squashing = model.Squashing;
        output = model.Output;
        convolutions = model.Convolutions;
        parameters = (float[])model.Parameters.Clone();
        Device = Describe(network);
    }

    public static DeviceDescription Describe(CpuNetwork network) => new(DeviceKind.Cpu,
        $"CPU engine ({(int)network.VectorWidth}-bit vectors, {network.Threads} threads)",
        GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, network.Lanes, network.Threads);

    private OutputLayer output;
    private ConvolutionSquashing convolutions;

    public void Load(LeNetModel model)
    {
        if (model.Squashing != Squashing)
            throw new ArgumentException($"engine was built for {Squashing.ToName()} squashing, model uses {model.Squashing.ToName()}");
        output = model.Output;
        convolutions = model.Convolutions;
        parameters = (float[])model.Parameters.Clone();
    }

    public Prediction Predict(ReadOnlySpan<float> images)
    {
        int n = IInferenceEngine.CountImages(images.Length, Architecture.InputLength, "float 32×32 images");
        var result = new Prediction(new float[(long)n * Architecture.Classes], new int[n]);
        for (int first = 0; first < n; first += BatchCapacity)
        {
            int count = Math.Min(BatchCapacity, n - first);
            network.Predict(parameters, Squashing, images.Slice(first * Architecture.InputLength, count * Architecture.InputLength), count, output, convolutions);
            Collect(result, first, count);
        }
        return result;
    }

    public Prediction PredictMnist(ReadOnlySpan<byte> images)
    {
        int n = IInferenceEngine.CountImages(images.Length, InputField.MnistLength, "28×28 byte images");
        var result = new Prediction(new float[(long)n * Architecture.Classes], new int[n]);
        for (int first = 0; first < n; first += BatchCapacity)
        {
            int count = Math.Min(BatchCapacity, n - first);
            network.PredictMnist(parameters, Squashing, images.Slice(first * InputField.MnistLength, count * InputField.MnistLength), count, output, convolutions);
            Collect(result, first, count);
        }
        return result;
    }

    private void Collect(Prediction result, int first, int count)
    {
        network.Probabilities.CopyTo(result.Probabilities.AsSpan(first * Architecture.Classes, count * Architecture.Classes));
        network.Predictions.CopyTo(result.Classes.AsSpan(first, count));
    }

    public LayerOutputs Trace(ReadOnlySpan<float> images)
    {
        int n = IInferenceEngine.CountImages(images.Length, Architecture.InputLength, "float 32×32 images");
        if (n > BatchCapacity) throw new ArgumentException($"trace takes at most {BatchCapacity} images, got {n}");
        network.Forward(parameters, Squashing, images, n, output, convolutions); // keeps every layer, unlike Predict
        var prediction = new Prediction(new float[(long)n * Architecture.Classes], new int[n]);
        Collect(prediction, 0, n);
        return new LayerOutputs(n, [images.ToArray(), .. Architecture.Layers.Skip(1).Select(l => network.Activations(l.Layer))],
            prediction.Probabilities, prediction.Classes);
    }

    public void Dispose() => network.Dispose(); // its worker threads; the buffers are managed (pinned) arrays
}

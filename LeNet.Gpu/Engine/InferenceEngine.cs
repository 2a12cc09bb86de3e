using LeNet.Gpu.Model;

namespace LeNet.Gpu.Engine;

/// <summary>Class probabilities [Count][10] (image-major) and the predicted class of each image.</summary>
public sealed record Prediction(float[] Probabilities, int[] Classes)
{
    public int Count => Classes.Length;
    public ReadOnlySpan<float> ProbabilitiesOf(int image) =>
        Probabilities.AsSpan(image * Architecture.Classes, Architecture.Classes);
}

/// <summary>
/// Every layer's output for a few images, image-major ([image][maps][size][size]), as read back from the device:
/// for tests against a reference and for pictures of feature maps.
/// </summary>
public sealed record LayerOutputs(int Count, float[] Input, float[] C1, float[] S2, float[] C3, float[] S4,
    float[] C5, float[] F6, float[] Logits, float[] Probabilities, int[] Classes)
{
    /// <summary>
    /// Every layer's output, in the order of <see cref="Model.Layer"/>, each holding <see cref="Count"/> ×
    /// <see cref="Architecture.ElementsOf"/> values.
    /// </summary>
    public IReadOnlyList<float[]> Layers => [Input, C1, S2, C3, S4, C5, F6, Logits];

    /// <summary>One layer's output for all images, image-major.</summary>
    public float[] Of(Layer layer) => Layers[(int)layer];

    /// <summary>One layer's output for image <paramref name="image"/>.</summary>
    public ReadOnlySpan<float> Of(Layer layer, int image)
    {
        int per = Architecture.ElementsOf(layer);
        return Of(layer).AsSpan(image * per, per);
    }

    /// <summary>Builds a trace from every layer's output in <see cref="Model.Layer"/> order.</summary>
    public static LayerOutputs FromLayers(int count, IReadOnlyList<float[]> layers, float[] probabilities, int[] classes)
    {
        if (layers.Count != Architecture.Layers.Count)
            throw new ArgumentException($"a trace holds {Architecture.Layers.Count} layers, got {layers.Count}");
        return new LayerOutputs(count, layers[(int)Layer.Input], layers[(int)Layer.C1], layers[(int)Layer.S2],
            layers[(int)Layer.C3], layers[(int)Layer.S4], layers[(int)Layer.C5], layers[(int)Layer.F6],
            layers[(int)Layer.Output], probabilities, classes);
    }
}

/// <summary>
/// Batch inference of one model: the same contract on every engine (<see cref="Engines.CreateInference"/>), the
/// ILGPU kernels' (<see cref="Ilgpu.IlgpuInferenceEngine"/>) and the CPU engine's (<see cref="Cpu.CpuInferenceEngine"/>).
/// </summary>
public interface IInferenceEngine : IDisposable
{
    /// <summary>Floats per 32×32 input image, and bytes per raw 28×28 MNIST image.</summary>
    public const int ImageFloats = Architecture.InputLength, MnistPixels = InputField.MnistLength;

    DeviceDescription Device { get; }
    int BatchCapacity { get; }
    Squashing Squashing { get; }

    /// <summary>Replaces the parameters (same squashing function; output layer and convolutions as the model has them).</summary>
    void Load(LeNetModel model);

    /// <summary>Classifies float images [n][32·32], row-major, already in the model's input scale.</summary>
    Prediction Predict(ReadOnlySpan<float> images);

    /// <summary>Classifies raw 28×28 bytes [n][784] (MNIST layout, 0 = background), padded and scaled as the paper does.</summary>
    Prediction PredictMnist(ReadOnlySpan<byte> images);

    /// <summary>Every layer's output for up to <see cref="BatchCapacity"/> float images, image-major.</summary>
    LayerOutputs Trace(ReadOnlySpan<float> images);

    /// <summary>How many whole images of <paramref name="per"/> values <paramref name="length"/> values hold; none, or a partial one, is an error.</summary>
    internal static int CountImages(int length, int per, string what)
    {
        if (length == 0) throw new ArgumentException($"no images given (expected {what}, {per} values each)");
        if (length % per != 0)
            throw new ArgumentException($"input holds {length} values, not a whole number of {what} ({per} values each)");
        return length / per;
    }
}

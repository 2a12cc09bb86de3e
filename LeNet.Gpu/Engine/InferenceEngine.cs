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
/// Every layer's output for a few images, image-major ([image][maps][size][size]), as read back from the engine:
/// for tests against a reference and for pictures of feature maps. <see cref="Layers"/> is indexed by
/// <see cref="Layer"/>; each holds <see cref="ActivationLayout.LengthOf(Layer, int)"/> values for <see cref="Count"/> images.
/// </summary>
public sealed record LayerOutputs
{
    public LayerOutputs(int count, IReadOnlyList<float[]> layers, float[] probabilities, int[] classes)
    {
        if (layers.Count != Architecture.Layers.Count)
            throw new ArgumentException($"a trace holds {Architecture.Layers.Count} layers, got {layers.Count}");
        for (int l = 0; l < layers.Count; l++)
            if (layers[l].Length != ActivationLayout.LengthOf((Layer)l, count))
                throw new ArgumentException($"{(Layer)l} holds {layers[l].Length} values, not {count} × {ActivationLayout.LengthOf((Layer)l)}");
        (Count, Layers, Probabilities, Classes) = (count, layers, probabilities, classes);
    }

    public int Count { get; }

    /// <summary>Every layer's output for all images, image-major, in the order of <see cref="Model.Layer"/>.</summary>
    public IReadOnlyList<float[]> Layers { get; }

    public float[] Probabilities { get; }
    public int[] Classes { get; }

    /// <summary>One layer's output for all images, image-major.</summary>
    public float[] Of(Layer layer) => Layers[(int)layer];

    /// <summary>One layer's output for image <paramref name="image"/>.</summary>
    public ReadOnlySpan<float> Of(Layer layer, int image)
    {
        int per = ActivationLayout.LengthOf(layer);
        return Of(layer).AsSpan(image * per, per);
    }

    /// <summary>Builds a trace from every layer's output in <see cref="Model.Layer"/> order.</summary>
    public static LayerOutputs FromLayers(int count, IReadOnlyList<float[]> layers, float[] probabilities, int[] classes) =>
        new(count, layers, probabilities, classes);
}

/// <summary>
/// Batch inference of one model: the same contract on every engine (<see cref="Engines.CreateInference"/>), the
/// ILGPU kernels' (<see cref="Ilgpu.IlgpuInferenceEngine"/>) and the CPU engine's (<see cref="Cpu.CpuInferenceEngine"/>).
/// </summary>
public interface IInferenceEngine : IDisposable
{
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

using System.Runtime.Intrinsics;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// LeNet-5 on the CPU, vectorised and multithreaded: the same functions as the device kernels (forward, backward
/// with its second-order mode) for machines without a GPU. Parameters are the flat buffer of
/// <see cref="ParameterLayout"/>; the caller owns them and passes them to every call.
/// <code>
/// images        [count][32·32] row-major floats in the model's input scale (or MNIST bytes [count][28·28])
/// probabilities [count][10]    predictions [count]    activations (accessors) [count][maps][size][size]
/// gradients     flat parameter layout, of the batch-mean loss (−log p[label] averaged over the batch)
/// </code>
/// Internally the batch lives in tiles of one hardware vector of images (<see cref="TileLayout"/>), spread over the
/// threads tile by tile; the few images left after the full tiles (a batch of 1, say) run one by one, vectorised
/// within the image (<see cref="SingleImage"/>). Buffers for <see cref="Capacity"/> images are allocated once, in
/// the constructor. Gradients are bitwise reproducible: the
/// same batch gives the same bits whatever the thread count and the vector width. Not thread-safe: one
/// batch at a time.
/// </summary>
public sealed unsafe class CpuNetwork : IDisposable
{
    private readonly ITileEngine engine;
    private Squashing forwardSquashing;
    private bool activationsKept; // false after Predict: only probabilities and predictions

    /// <summary>The output layer of the last forward pass (an RBF model's probabilities are softmax(−y)).</summary>
    public OutputLayer Output { get; private set; }

    /// <summary>Images per batch at most.</summary>
    public int Capacity { get; }

    /// <summary>Worker threads a batch is spread over.</summary>
    public int Threads { get; }

    /// <summary>The vector width in use (never <see cref="CpuVectorWidth.Auto"/>).</summary>
    public CpuVectorWidth VectorWidth { get; }

    /// <summary>Images per vector (16, 8 or 4): the tile size.</summary>
    public int Lanes => engine.Lanes;

    /// <summary>
    /// Whether a one-image training step (forward for backward, first-order backward) runs within the image (true, the
    /// default) or in a tile; the same bits either way (tests compare them).
    /// </summary>
    internal bool PatternPath { get => engine.PatternPath; set => engine.PatternPath = value; }

    /// <summary>Images in the last <see cref="Forward"/>; 0 before the first.</summary>
    public int Count { get; private set; }

    /// <param name="capacity">Most images per batch.</param>
    /// <param name="threads">Worker threads; 0 for one per processor.</param>
    /// <param name="vectorWidth">Auto takes the widest the hardware accelerates.</param>
    public CpuNetwork(int capacity, int threads = 0, CpuVectorWidth vectorWidth = CpuVectorWidth.Auto)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be at least 1 image");
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be positive, or 0 for one per processor");
        Capacity = capacity;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        VectorWidth = SimdWidth.Resolve(vectorWidth);
        engine = VectorWidth switch
        {
            CpuVectorWidth.Bits512 => new TileEngine<Simd512, Vector512<float>>(capacity, Threads, SingleImageLimit),
            CpuVectorWidth.Bits256 => new TileEngine<Simd256, Vector256<float>>(capacity, Threads, SingleImageLimit),
            _ => new TileEngine<Simd128, Vector128<float>>(capacity, Threads, SingleImageLimit),
        };
    }

    /// <summary>Ends the engine's worker threads; they also end when the network is collected.</summary>
    public void Dispose() => engine.Dispose();

    /// <summary>
    /// How many images left over after the full 16-image groups run one by one rather than in a partly empty tile.
    /// Measured on Zen 4 (CPU time per call): one image alone costs 1/10 of a 16-lane tile. The same at every width,
    /// so that every width runs the same images alone and gives the same outputs (narrower tiles would pay off sooner:
    /// one image costs 1/5 of an 8-lane tile and 1/3 of a 4-lane one).
    /// </summary>
    private const int SingleImageLimit = 9;

    /// <summary>Runs every layer on <paramref name="count"/> float images [count][1024] (model input scale).</summary>
    /// <param name="output">An RBF model's OUTPUT is its distances: the Output layer's values are −y.</param>
    /// <param name="convolutions">Whether C1 and C3 squash their sums (the backward pass follows the forward's).</param>
    public void Forward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<float> images, int count,
        OutputLayer output = OutputLayer.Softmax, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear) =>
        RunForward(parameters, squashing, images, count, output, convolutions, tilesOnly: false, keep: true);

    /// <summary>
    /// <see cref="Forward"/> for the probabilities and predictions alone, the same bits: no layer is kept, so each tile's
    /// layers stay in its worker's own buffers (in cache) instead of going to memory. <see cref="CopyActivations"/> and
    /// <see cref="Backward(ReadOnlySpan{float}, Squashing, ReadOnlySpan{int}, int, Span{float}, bool, out double, out int)"/>
    /// need a <see cref="Forward"/>.
    /// </summary>
    public void Predict(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<float> images, int count,
        OutputLayer output = OutputLayer.Softmax, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear) =>
        RunForward(parameters, squashing, images, count, output, convolutions, tilesOnly: false, keep: false);

    /// <summary>
    /// <see cref="Forward"/> for a batch whose backward pass follows: every image runs in tiles, none one by one (the
    /// backward pass would run them again in a tile). The same bits: a partial tile's empty lanes hold zeros either way.
    /// </summary>
    internal void ForwardForBackward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<float> images, int count,
        OutputLayer output, ConvolutionSquashing convolutions) =>
        RunForward(parameters, squashing, images, count, output, convolutions, tilesOnly: true, keep: true);

    private void RunForward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<float> images, int count,
        OutputLayer output, ConvolutionSquashing convolutions, bool tilesOnly, bool keep)
    {
        CheckForward(parameters, squashing, convolutions, count);
        if (images.Length < (long)count * Architecture.InputLength)
            throw new ArgumentException($"{count} images need {count * Architecture.InputLength} floats; got {images.Length}", nameof(images));
        fixed (float* p = parameters, x = images)
            engine.Forward(p, squashing, convolutions, output, x, null, count, tilesOnly, keep);
        Finish(squashing, output, count, keep);
    }

    /// <summary>
    /// Runs every layer on <paramref name="count"/> raw 28×28 byte images [count][784] (0 background, 255 ink),
    /// prepared as the paper prepares MNIST: a 2-pixel border of −0.1 around the field, ink v → −0.1 + 1.275·v/255.
    /// </summary>
    public void ForwardMnist(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<byte> images, int count,
        OutputLayer output = OutputLayer.Softmax, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear) =>
        RunForwardMnist(parameters, squashing, images, count, output, convolutions, keep: true);

    /// <summary><see cref="ForwardMnist"/> for the probabilities and predictions alone, as <see cref="Predict"/>.</summary>
    public void PredictMnist(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<byte> images, int count,
        OutputLayer output = OutputLayer.Softmax, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear) =>
        RunForwardMnist(parameters, squashing, images, count, output, convolutions, keep: false);

    private void RunForwardMnist(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<byte> images, int count,
        OutputLayer output, ConvolutionSquashing convolutions, bool keep)
    {
        CheckForward(parameters, squashing, convolutions, count);
        if (images.Length < (long)count * InputField.MnistLength)
            throw new ArgumentException($"{count} images need {count * InputField.MnistLength} bytes; got {images.Length}", nameof(images));
        fixed (float* p = parameters)
        fixed (byte* b = images)
            engine.Forward(p, squashing, convolutions, output, null, b, count, keep: keep);
        Finish(squashing, output, count, keep);
    }

    /// <summary>Class probabilities of the last forward pass, [Count][10].</summary>
    public ReadOnlySpan<float> Probabilities => new(engine.Probabilities, Count * Architecture.Classes);

    /// <summary>The most probable class of each image of the last forward pass (the first of equal maxima).</summary>
    public ReadOnlySpan<int> Predictions => new(engine.Predictions, Count);

    /// <summary>Copies a layer's output for the last forward pass, image-major [Count][maps][size][size].</summary>
    public void CopyActivations(Layer layer, Span<float> destination)
    {
        int elements = ActivationLayout.LengthOf(layer);
        RequireActivations();
        if (destination.Length < Count * elements)
            throw new ArgumentException($"{layer} of {Count} images needs {Count * elements} floats; got {destination.Length}", nameof(destination));
        fixed (float* d = destination)
            engine.CopyActivations(layer, Count, d);
    }

    /// <summary>The first tile of a layer's outputs, every lane (empty ones included), [elements][Lanes]: for tests.</summary>
    internal float[] FirstTile(Layer layer)
    {
        var result = new float[ActivationLayout.LengthOf(layer) * Lanes];
        RequireActivations();
        fixed (float* d = result) engine.CopyFirstTile(layer, d);
        return result;
    }

    /// <summary>A layer's output for the last forward pass, image-major [Count][maps][size][size].</summary>
    public float[] Activations(Layer layer)
    {
        var result = new float[Count * ActivationLayout.LengthOf(layer)];
        CopyActivations(layer, result);
        return result;
    }

    /// <summary>
    /// Gradients of the batch-mean cross-entropy for the first <paramref name="count"/> images of the last forward
    /// pass (run with the same parameters), assigned to <paramref name="gradients"/> in the flat parameter layout.
    /// Masked C3 weights get exactly 0. <paramref name="secondOrder"/>: the Gauss–Newton Hessian diagonal instead
    /// (p(1−p) at the logits, squared weights, derivatives and inputs), as the device's second-order mode.
    /// </summary>
    /// <param name="lossSum">Σ over the images of −log p[label] (not the mean).</param>
    /// <param name="correct">Images whose prediction equals the label.</param>
    public void Backward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<int> labels, int count,
        Span<float> gradients, bool secondOrder, out double lossSum, out int correct) =>
        Backward(parameters, squashing, labels, count, gradients, secondOrder, 0f, out lossSum, out correct);

    /// <summary>
    /// As above; after an RBF forward pass the loss is the MAP criterion with this <paramref name="mapJ"/>
    /// (<see cref="RbfTiles"/>), its sum returned in <paramref name="lossSum"/>, and OUTPUT's gradients are 0.
    /// </summary>
    public void Backward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<int> labels, int count,
        Span<float> gradients, bool secondOrder, float mapJ, out double lossSum, out int correct) =>
        Backward(parameters, squashing, labels, count, gradients, secondOrder, mapJ, null, out lossSum, out correct);

    /// <summary>
    /// As above, with <paramref name="update"/> called once for each block [from, to) of the parameters as soon as its
    /// gradients are final, on the worker that summed them: an optimizer step given here runs in parallel, on
    /// gradients still in that core's cache. Nothing in the backward pass reads the parameters after that.
    /// </summary>
    public void Backward(ReadOnlySpan<float> parameters, Squashing squashing, ReadOnlySpan<int> labels, int count,
        Span<float> gradients, bool secondOrder, float mapJ, Action<int, int>? update, out double lossSum, out int correct)
    {
        if (Count == 0) throw new InvalidOperationException("Backward needs a Forward first");
        RequireActivations();
        if (squashing != forwardSquashing)
            throw new ArgumentException($"the forward pass used {forwardSquashing.ToName()}, not {squashing.ToName()}", nameof(squashing));
        if (count < 1 || count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the last forward pass holds {Count} images");
        CheckParameters(parameters);
        if (labels.Length < count) throw new ArgumentException($"{count} images need {count} labels; got {labels.Length}", nameof(labels));
        for (int n = 0; n < count; n++)
            if ((uint)labels[n] >= Architecture.Classes)
                throw new ArgumentException($"label {labels[n]} of image {n} is not a class 0–9", nameof(labels));
        if (gradients.Length != ParameterLayout.Length)
            throw new ArgumentException($"gradients need {ParameterLayout.Length} floats; got {gradients.Length}", nameof(gradients));
        fixed (float* p = parameters, g = gradients)
        fixed (int* y = labels)
            engine.Backward(p, squashing, y, count, g, secondOrder, mapJ, out lossSum, out correct, update);
    }

    /// <summary>
    /// A per-pattern SDLM step's backward pass (one image, first order, after <see cref="ForwardForBackward"/>) where it
    /// runs within the image: the dense layers' weights take their step w ← w − s·(g + λw) in place as soon as their
    /// gradients are formed (those gradients are not written), every other gradient goes to <paramref name="gradients"/>
    /// for the caller to step. Returns false, having done nothing, where the step does not run within the image
    /// (then <see cref="Backward(ReadOnlySpan{float}, Squashing, ReadOnlySpan{int}, int, Span{float}, bool, float, out double, out int)"/> and a whole update follow).
    /// </summary>
    internal bool BackwardSdlmPattern(Span<float> parameters, Squashing squashing, ReadOnlySpan<int> labels, Span<float> gradients, float mapJ,
        ReadOnlySpan<float> stepSizes, float weightDecay, out double lossSum, out int correct)
    {
        if (Count != 1 || squashing != forwardSquashing || labels.Length < 1 || (uint)labels[0] >= Architecture.Classes
            || parameters.Length != ParameterLayout.Length || gradients.Length != ParameterLayout.Length || stepSizes.Length != ParameterLayout.Length)
        {
            (lossSum, correct) = (0, 0);
            return false;
        }
        fixed (float* p = parameters, g = gradients, s = stepSizes)
        fixed (int* y = labels)
            return engine.BackwardPatternSdlm(p, squashing, y, g, mapJ, s, weightDecay, out lossSum, out correct);
    }

    /// <summary>MNIST bytes [count][784] → float images [count][1024], the preparation <see cref="ForwardMnist"/> applies.</summary>
    public static void ConvertMnist(ReadOnlySpan<byte> mnist, Span<float> images)
    {
        int count = mnist.Length / InputField.MnistLength;
        if (mnist.Length % InputField.MnistLength != 0) throw new ArgumentException("not a whole number of 28×28 images", nameof(mnist));
        if (images.Length < count * Architecture.InputLength) throw new ArgumentException($"{count} images need {count * Architecture.InputLength} floats", nameof(images));
        fixed (byte* source = mnist)
        {
            var bytes = new HostInkBytes(source);
            for (int n = 0; n < count; n++)
                for (int y = 0; y < InputField.Size; y++)
                    for (int x = 0; x < InputField.Size; x++)
                        images[n * Architecture.InputLength + y * InputField.Size + x] = InputField.Mnist(bytes, n * InputField.MnistLength, x, y);
        }
    }

    private void CheckForward(ReadOnlySpan<float> parameters, Squashing squashing, ConvolutionSquashing convolutions, int count)
    {
        // An RBF output needs its ±1 centres in output.weight; the model checks that when it is made.
        if (!Enum.IsDefined(squashing)) throw new ArgumentOutOfRangeException(nameof(squashing), squashing, "unknown squashing function");
        if (!Enum.IsDefined(convolutions)) throw new ArgumentOutOfRangeException(nameof(convolutions), convolutions, "unknown convolution squashing");
        if (count < 1 || count > Capacity)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"a batch holds 1 to {Capacity} images");
        CheckParameters(parameters);
    }

    private static void CheckParameters(ReadOnlySpan<float> parameters)
    {
        if (parameters.Length != ParameterLayout.Length)
            throw new ArgumentException($"parameters hold {parameters.Length} floats; LeNet-5 needs {ParameterLayout.Length}", nameof(parameters));
    }

    private void RequireActivations()
    {
        if (!activationsKept)
            throw new InvalidOperationException("the last forward pass was a Predict, which keeps no layer's outputs: run Forward first");
    }

    private void Finish(Squashing squashing, OutputLayer output, int count, bool keep)
    {
        activationsKept = keep;
        forwardSquashing = squashing;
        Output = output;
        Count = count;
    }
}

using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Training on the CPU engine: the same steps as the device backend — gather (with the same distortions),
/// forward, backward, update — on host arrays allocated once per run.
/// </summary>
internal sealed class CpuTrainingBackend : ITrainingBackend
{
    private const int Field = InputField.Size;

    private readonly TrainingOptions options;
    private readonly Squashing squashing;
    private readonly OutputLayer output;
    private readonly ConvolutionSquashing convolutions;
    private readonly CpuNetwork network, stepNetwork;
    private readonly float[] dataset, parameters, gradients, trainable, batch, logits, sdlmStepSizes;
    // The optimizer's state, each the parameters' length where the optimizer keeps it (else empty): SGD's velocity,
    // Adam's first and second moments, SDLM's Hessian diagonal (estimated before every pass, so no checkpoint holds it).
    private readonly float[] velocity, firstMoment, secondMoment, hessian;
    // What sdlmStepSizes were computed from (bit patterns of ε and μ); stale after the Hessian estimate changes.
    private int stepSizesRate, stepSizesMu;
    private bool stepSizesStale = true;
    private readonly int[] labels, order, batchLabels, trainableRuns, unfusedRuns;
    private readonly Action<int, int> stepBlock; // StepBlock, allocated once
    private double lossSum;
    private long correct, images;

    public DeviceDescription Device { get; }
    public IInferenceEngine CreateInference(LeNetModel model) => new CpuInferenceEngine(model);

    /// <param name="vectorWidth">The engine's vector width (Hessian estimates, evaluations, and steps of more than one image).</param>
    /// <param name="stepWidth">The vector width of the training steps' tiles; null: <see cref="StepWidth"/>.</param>
    public CpuTrainingBackend(LeNetModel model, TrainingOptions options, float[] images, int[] labels, int n, int threads,
        CpuVectorWidth? stepWidth = null, CpuVectorWidth vectorWidth = CpuVectorWidth.Auto)
    {
        this.options = options;
        squashing = model.Squashing;
        output = model.Output;
        convolutions = model.Convolutions;
        int capacity = Math.Max(options.BatchSize, Math.Min(n, 1024));
        network = new CpuNetwork(capacity, threads, vectorWidth);
        var width = stepWidth ?? StepWidth(options.BatchSize);
        width = width == CpuVectorWidth.Auto ? network.VectorWidth : SimdWidth.Resolve(width);
        stepNetwork = width == network.VectorWidth ? network : new CpuNetwork(options.BatchSize, threads, width);
        Device = CpuInferenceEngine.Describe(network);
        dataset = images;
        this.labels = labels;
        parameters = (float[])model.Parameters.Clone();
        gradients = new float[ParameterLayout.Length];
        float[] Kept(params OptimizerKind[] by) => by.Contains(options.Optimizer) ? new float[ParameterLayout.Length] : [];
        velocity = Kept(OptimizerKind.Sgd);
        firstMoment = Kept(OptimizerKind.Adam);
        secondMoment = Kept(OptimizerKind.Adam);
        hessian = Kept(OptimizerKind.Sdlm);
        sdlmStepSizes = Kept(OptimizerKind.Sdlm);
        trainable = ParameterLayout.TrainableMask(output);
        stepBlock = StepBlock;
        trainableRuns = CpuOptimizer.TrainableRuns(trainable);
        // What a per-pattern SDLM step leaves to the update after its backward pass: all but the dense layers' weights.
        var unfused = (float[])trainable.Clone();
        foreach (var dense in new[] { ParameterLayout.C5Weight, ParameterLayout.F6Weight, ParameterLayout.OutputWeight })
            Array.Clear(unfused, dense.Offset, dense.Length);
        unfusedRuns = CpuOptimizer.TrainableRuns(unfused);
        logits = new float[capacity * Architecture.Classes];
        order = new int[n];
        batch = new float[capacity * Architecture.InputLength];
        batchLabels = new int[capacity];
    }

    /// <summary>
    /// The tiles a training step runs in (Auto: the engine's). A per-pattern step (batch 1) fills one lane of a tile
    /// whatever its width, so it runs in 4-lane tiles rather than the widest: the same bits (every width sums in the same
    /// order; a test checks it), 40% more images/s on a machine with 512-bit vectors (the recipe's first MNIST pass,
    /// 2026-11-30: 2,181 → 3,079; README). The Hessian estimates and evaluations keep the engine's tiles. Where AVX2 is
    /// present a per-pattern step now runs within the image (TileEngine.Pattern.cs) and these tiles serve only the
    /// steps that cannot (without AVX2, or with the pattern path turned off).
    /// </summary>
    public static CpuVectorWidth StepWidth(int batchSize) => batchSize == 1 ? CpuVectorWidth.Bits128 : CpuVectorWidth.Auto;

    public void SetOrder(int[] indices, int offset) => indices.CopyTo(order, offset);

    public void TrainBatch(int epoch, int first, int count, float rate, long step)
    {
        Gather(epoch, first, count, distort: true);
        stepNetwork.ForwardForBackward(parameters, squashing, batch, count, output, convolutions);
        if (options.Optimizer == OptimizerKind.Sdlm && count == 1 && PatternPath)
        {
            // A per-pattern step within the image updates the dense weights as it forms their gradients.
            PrepareSdlmStepSizes(rate * count, options.MuAt(rate));
            if (stepNetwork.BackwardSdlmPattern(parameters, squashing, batchLabels, gradients, options.MapJ, sdlmStepSizes, options.WeightDecay,
                out double patternLoss, out int patternRight))
            {
                (lossSum, correct, images) = (lossSum + patternLoss, correct + patternRight, images + count);
                CpuOptimizer.SdlmWithStepSizes(options.WeightDecay, parameters, gradients, sdlmStepSizes, unfusedRuns);
                return;
            }
        }
        // SGD and Adam step each block of the parameters inside the backward pass, as soon as its gradients are summed
        // (in parallel, while they are in cache); element by element the same operations as one call over all of them.
        bool blockwise = options.Optimizer is OptimizerKind.Sgd or OptimizerKind.Adam;
        if (blockwise)
        {
            stepRate = rate;
            if (options.Optimizer == OptimizerKind.Adam) (stepCorrection1, stepCorrection2) = options.AdamCorrections(step);
        }
        stepNetwork.Backward(parameters, squashing, batchLabels, count, gradients, secondOrder: false, options.MapJ,
            blockwise ? stepBlock : null, out double loss, out int right);
        lossSum += loss;
        correct += right;
        images += count;
        if (options.Optimizer == OptimizerKind.Sdlm)
        {
            PrepareSdlmStepSizes(rate * count, options.MuAt(rate));
            CpuOptimizer.SdlmWithStepSizes(options.WeightDecay, parameters, gradients, sdlmStepSizes, trainableRuns);
        }
    }

    // The step StepBlock applies: the rate, and Adam's bias corrections, of the batch in flight.
    private float stepRate, stepCorrection1, stepCorrection2;

    /// <summary>SGD's or Adam's step over parameters [from, to), from their gradients (the backward pass's blocks).</summary>
    private void StepBlock(int from, int to)
    {
        int n = to - from;
        if (options.Optimizer == OptimizerKind.Sgd)
            CpuOptimizer.Sgd(stepRate, options.Momentum, options.WeightDecay, parameters.AsSpan(from, n), gradients.AsSpan(from, n),
                velocity.AsSpan(from, n), trainable.AsSpan(from, n));
        else
            CpuOptimizer.Adam(stepRate, options.AdamBeta1, options.AdamBeta2, options.AdamEpsilon, options.WeightDecay,
                stepCorrection1, stepCorrection2, parameters.AsSpan(from, n), gradients.AsSpan(from, n),
                firstMoment.AsSpan(from, n), secondMoment.AsSpan(from, n), trainable.AsSpan(from, n));
    }

    /// <summary>The SDLM step sizes ε/(μ + h), computed again only when ε, μ or the Hessian estimate changed.</summary>
    private void PrepareSdlmStepSizes(float epsilon, float mu)
    {
        if (!stepSizesStale && BitConverter.SingleToInt32Bits(epsilon) == stepSizesRate && BitConverter.SingleToInt32Bits(mu) == stepSizesMu) return;
        CpuOptimizer.SdlmStepSizes(epsilon, mu, hessian, sdlmStepSizes);
        (stepSizesRate, stepSizesMu, stepSizesStale) = (BitConverter.SingleToInt32Bits(epsilon), BitConverter.SingleToInt32Bits(mu), false);
    }

    /// <summary>Whether a one-image step may run within the image (tests turn it off to compare with the tiled step).</summary>
    internal bool PatternPath
    {
        get => stepNetwork.PatternPath;
        set => stepNetwork.PatternPath = value;
    }

    /// <summary>Images order[first ..] into the batch buffer, distorted as <see cref="Kernels.InputKernels.GatherDistorted"/> does.</summary>
    private void Gather(int epoch, int first, int count, bool distort)
    {
        var d = distort ? options.Distortion : null;
        for (int n = 0; n < count; n++)
        {
            int source = order[first + n];
            batchLabels[n] = labels[source];
            var to = batch.AsSpan(n * Architecture.InputLength, Architecture.InputLength);
            if (d is null)
            {
                dataset.AsSpan(source * Architecture.InputLength, Architecture.InputLength).CopyTo(to);
                continue;
            }
            var t = AffineDistortion.For(d.Args(options.Seed, epoch), source);
            var images = new HostFieldFloats(dataset);
            long from = (long)source * Architecture.InputLength;
            for (int y = 0; y < Field; y++)
                for (int x = 0; x < Field; x++)
                {
                    t.SourceOf(x, y, out int x0, out int y0, out float fx, out float fy);
                    to[y * Field + x] = InputField.Bilinear(images, from, x0, y0, fx, fy);
                }
        }
    }

    public void EstimateHessian(int first, int samples)
    {
        stepSizesStale = true;
        Array.Clear(hessian);
        for (int done = 0; done < samples; done += network.Capacity)
        {
            int count = Math.Min(network.Capacity, samples - done);
            Gather(0, first + done, count, distort: false);
            network.ForwardForBackward(parameters, squashing, batch, count, output, convolutions);
            network.Backward(parameters, squashing, batchLabels, count, gradients, secondOrder: true, options.MapJ, out _, out _);
            // Each batch's diagonal is its mean; weighting by its share of the samples makes the estimate their mean.
            CpuOptimizer.Accumulate((float)count / samples, gradients, hessian);
        }
    }

    public void ResetStatistics() => (lossSum, correct, images) = (0, 0, 0);

    public Score ReadStatistics() => new(lossSum / Math.Max(1, images), (double)correct / Math.Max(1, images), images);

    public Score Evaluate(int first, int count)
    {
        ResetStatistics();
        Span<float> q = stackalloc float[Architecture.Classes];
        for (int offset = 0; offset < count; offset += network.Capacity)
        {
            int c = Math.Min(network.Capacity, count - offset);
            Gather(0, first + offset, c, distort: false);
            network.Forward(parameters, squashing, batch, c, output, convolutions);
            var p = network.Probabilities;
            var predicted = network.Predictions;
            if (output == OutputLayer.Rbf) network.CopyActivations(Layer.Output, logits);
            for (int n = 0; n < c; n++)
            {
                lossSum += output == OutputLayer.Rbf
                    ? RbfTiles.Loss(logits.AsSpan(n * Architecture.Classes, Architecture.Classes), batchLabels[n], options.MapJ, q)
                    : -Math.Log(Math.Max(p[n * Architecture.Classes + batchLabels[n]], 1e-30f));
                if (predicted[n] == batchLabels[n]) correct++;
            }
            images += c;
        }
        return ReadStatistics();
    }

    public float[] Parameters() => (float[])parameters.Clone();

    public Dictionary<string, float[]> OptimizerState() =>
        OptimizerStateNames.For(options.Optimizer).ToDictionary(name => name, name => (float[])State(name).Clone());

    public void LoadOptimizerState(string name, float[] values)
    {
        values.CopyTo(State(name), 0);
        stepSizesStale = true;
    }

    private float[] State(string name) => name switch
    {
        OptimizerStateNames.Velocity => velocity,
        OptimizerStateNames.FirstMoment => firstMoment,
        OptimizerStateNames.SecondMoment => secondMoment,
        _ => throw new ArgumentException($"checkpoint holds unknown optimizer state '{name}'"),
    } is { Length: > 0 } state ? state
        : throw new ArgumentException($"checkpoint holds optimizer state '{name}', which {options.Optimizer.ToString().ToLowerInvariant()} does not keep");

    public void Dispose()
    {
        network.Dispose();
        stepNetwork.Dispose(); // may be the same network: a second Dispose does nothing
    }
}

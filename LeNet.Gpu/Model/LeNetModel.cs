namespace LeNet.Gpu.Model;

/// <summary>
/// A LeNet-5 on the host: its squashing function, whether C1 and C3 are squashed, its output layer and its parameters in the flat layout of
/// <see cref="ParameterLayout"/>. Plain data; the runtime copies it to a device. An <see cref="OutputLayer.Rbf"/>
/// model keeps its RBF centres in the output.weight slice (fixed, never trained) and zeros in output.bias.
/// </summary>
public sealed class LeNetModel
{
    public Squashing Squashing { get; }

    public OutputLayer Output { get; }

    /// <summary>Whether C1 and C3 pass on their weighted sums or squash them (<see cref="ConvolutionSquashing"/>).</summary>
    public ConvolutionSquashing Convolutions { get; }

    /// <summary>The flat parameter buffer (<see cref="ParameterLayout.Length"/> floats).</summary>
    public float[] Parameters { get; }

    /// <summary>Free-form provenance (dataset, epochs, seed, accuracy…), carried into weight files.</summary>
    public Dictionary<string, string> Metadata { get; } = new();

    public LeNetModel(Squashing squashing, float[] parameters, OutputLayer output = OutputLayer.Softmax,
        ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        if (!Enum.IsDefined(squashing))
            throw new ArgumentOutOfRangeException(nameof(squashing), squashing, "unknown squashing function");
        if (!Enum.IsDefined(output))
            throw new ArgumentOutOfRangeException(nameof(output), output, "unknown output layer");
        if (!Enum.IsDefined(convolutions))
            throw new ArgumentOutOfRangeException(nameof(convolutions), convolutions, "unknown convolution squashing");
        if (parameters.Length != ParameterLayout.Length)
            throw new ArgumentException(
                $"parameter buffer holds {parameters.Length} floats; LeNet-5 needs {ParameterLayout.Length}", nameof(parameters));
        if (output == OutputLayer.Rbf)
        {
            var centres = parameters.AsSpan(ParameterLayout.OutputWeight.Offset, ParameterLayout.OutputWeight.Length);
            foreach (float c in centres)
                if (c is not (1f or -1f))
                    throw new ArgumentException($"an RBF model's centres (output.weight) must be +1 or −1; found {c}", nameof(parameters));
            foreach (float b in parameters.AsSpan(ParameterLayout.OutputBias.Offset, ParameterLayout.OutputBias.Length))
                if (b != 0f)
                    throw new ArgumentException($"an RBF model has no output bias; output.bias holds {b}", nameof(parameters));
        }
        Squashing = squashing;
        Output = output;
        Convolutions = convolutions;
        Parameters = parameters;
    }

    /// <summary>
    /// A fresh model drawn from <paramref name="seed"/>: by default the paper's initialisation (every weight, coefficient
    /// and bias uniform in ±2.4/F_in); see <see cref="WeightInitialization"/>. Masked C3 entries are 0. Training takes its
    /// choice from <c>TrainingOptions.Initialization</c> (<c>TrainingOptions.InitialModel</c>). An RBF model's centres
    /// are <see cref="RbfCodes"/> (the random draws for them are made all the same, so the other layers start as a
    /// softmax model of the same seed does).
    /// </summary>
    /// <param name="inputRms">For <see cref="WeightInitialization.InputScaled"/>: the training images' root mean square
    /// (<see cref="InputStatistics.RootMeanSquare"/>); C1's weights are divided by it. Ignored by the others.</param>
    public static LeNetModel CreateRandom(int seed, Squashing squashing = Squashing.ScaledTanh,
        WeightInitialization initialization = WeightInitialization.Paper, OutputLayer output = OutputLayer.Softmax,
        double? inputRms = null, ConvolutionSquashing convolutions = ConvolutionSquashing.Linear)
    {
        if (!Enum.IsDefined(initialization))
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "unknown weight initialisation");
        if (initialization == WeightInitialization.InputScaled && !(inputRms > 0 && double.IsFinite(inputRms.Value)))
            throw new ArgumentException($"the input-scaled initialisation needs the training images' root mean square, a positive number; got {inputRms?.ToString() ?? "none"}", nameof(inputRms));
        var random = new Random(seed);
        var p = new float[ParameterLayout.Length];
        var mask = ParameterLayout.TrainableMask();
        foreach (var slice in ParameterLayout.Slices)
        {
            bool bias = slice.Name.EndsWith(".bias", StringComparison.Ordinal);
            for (int i = slice.Offset; i < slice.End; i++)
            {
                int fanIn = ParameterLayout.FanInOf(i);
                // The paper's limit is computed in float, as it always was, so its models stay bit-identical.
                double limit = initialization == WeightInitialization.Paper ? 2.4f / fanIn : bias ? 0 : Math.Sqrt(3.0 / fanIn);
                // One draw per parameter under either choice, so the generator's sequence does not depend on it.
                float value = (float)((random.NextDouble() * 2 - 1) * limit);
                p[i] = mask[i] == 0f || value == 0f ? 0f : value; // +0, never −0: files and hashes stay byte-stable
            }
        }
        if (initialization == WeightInitialization.InputScaled)
            for (int i = ParameterLayout.C1Weight.Offset; i < ParameterLayout.C1Weight.End; i++)
                p[i] = (float)(p[i] / inputRms!.Value);
        if (output == OutputLayer.Rbf)
        {
            RbfCodes.Create().CopyTo(p, ParameterLayout.OutputWeight.Offset);
            Array.Clear(p, ParameterLayout.OutputBias.Offset, ParameterLayout.OutputBias.Length);
        }
        return new LeNetModel(squashing, p, output, convolutions);
    }

    /// <summary>
    /// A softmax model with the same probabilities and classes: for an RBF model softmax(−y) = softmax(2·c·x), since
    /// −y_i = 2·c_i·x − |x|² − 84 and the last two terms are the same for all ten classes and cancel; OUTPUT becomes
    /// a dense layer with weights 2c and bias 0. Inference paths that have only the dense OUTPUT kernel run it so;
    /// their "logits" are then 2·c·x, not −y. A softmax model is returned as it is.
    /// </summary>
    public LeNetModel AsSoftmaxEquivalent()
    {
        if (Output == OutputLayer.Softmax) return this;
        var p = (float[])Parameters.Clone();
        for (int i = ParameterLayout.OutputWeight.Offset; i < ParameterLayout.OutputWeight.End; i++) p[i] *= 2f;
        var copy = new LeNetModel(Squashing, p, OutputLayer.Softmax, Convolutions);
        foreach (var (k, v) in Metadata) copy.Metadata[k] = v;
        return copy;
    }

    public LeNetModel Clone()
    {
        var copy = new LeNetModel(Squashing, (float[])Parameters.Clone(), Output, Convolutions);
        foreach (var (k, v) in Metadata) copy.Metadata[k] = v;
        return copy;
    }

    /// <summary>The elements of one named tensor.</summary>
    public Span<float> Tensor(ParameterSlice slice) => Parameters.AsSpan(slice.Offset, slice.Length);
}

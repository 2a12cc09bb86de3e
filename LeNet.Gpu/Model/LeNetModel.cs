namespace LeNet.Gpu.Model;

/// <summary>
/// A LeNet-5 on the host: its squashing function and its parameters in the flat layout of
/// <see cref="ParameterLayout"/>. Plain data; the runtime copies it to a device.
/// </summary>
public sealed class LeNetModel
{
    public Squashing Squashing { get; }

    /// <summary>The flat parameter buffer (<see cref="ParameterLayout.Length"/> floats).</summary>
    public float[] Parameters { get; }

    /// <summary>Free-form provenance (dataset, epochs, seed, accuracy…), carried into weight files.</summary>
    public Dictionary<string, string> Metadata { get; } = new();

    public LeNetModel(Squashing squashing, float[] parameters)
    {
        if (!Enum.IsDefined(squashing))
            throw new ArgumentOutOfRangeException(nameof(squashing), squashing, "unknown squashing function");
        if (parameters.Length != ParameterLayout.Length)
            throw new ArgumentException(
                $"parameter buffer holds {parameters.Length} floats; LeNet-5 needs {ParameterLayout.Length}", nameof(parameters));
        Squashing = squashing;
        Parameters = parameters;
    }

    /// <summary>
    /// A fresh model drawn from <paramref name="seed"/>: by default the paper's initialisation (every weight, coefficient
    /// and bias uniform in ±2.4/F_in); see <see cref="WeightInitialization"/>. Masked C3 entries are 0. Training takes its
    /// choice from <c>TrainingOptions.Initialization</c> (<c>TrainingOptions.InitialModel</c>).
    /// </summary>
    public static LeNetModel CreateRandom(int seed, Squashing squashing = Squashing.ScaledTanh,
        WeightInitialization initialization = WeightInitialization.Paper)
    {
        if (!Enum.IsDefined(initialization))
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "unknown weight initialisation");
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
        return new LeNetModel(squashing, p);
    }

    public LeNetModel Clone()
    {
        var copy = new LeNetModel(Squashing, (float[])Parameters.Clone());
        foreach (var (k, v) in Metadata) copy.Metadata[k] = v;
        return copy;
    }

    /// <summary>The elements of one named tensor.</summary>
    public Span<float> Tensor(ParameterSlice slice) => Parameters.AsSpan(slice.Offset, slice.Length);
}

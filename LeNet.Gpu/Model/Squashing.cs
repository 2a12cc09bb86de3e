namespace LeNet.Gpu.Model;

/// <summary>
/// The squashing function a model applies after S2, S4, C5 and F6 (and after C1 and C3 when its convolutions are
/// <see cref="ConvolutionSquashing.Squashed"/>). It belongs to the model.
/// </summary>
public enum Squashing
{
    /// <summary>The paper's f(a) = 1.7159·tanh(2a/3) (Appendix A).</summary>
    ScaledTanh = 1,

    /// <summary>The logistic sigmoid 1 / (1 + e^−a), the word the seed uses.</summary>
    Sigmoid = 2,
}

/// <summary>
/// What C1 and C3 pass on. The paper squashes the weighted sum of every unit up to F6 (Section II-B), C1 and C3
/// included, and LeCun's own implementations do; the softmax network here leaves them linear, as many LeNet-5s do,
/// since the subsampling layer after each squashes their scaled 2×2 sums. It belongs to the model and is stored in its
/// file (absent: linear, as every file written before the choice existed).
/// </summary>
public enum ConvolutionSquashing
{
    /// <summary>C1 and C3 pass on their weighted sums (the default).</summary>
    Linear = 0,

    /// <summary>C1 and C3 pass on f(weighted sum), as every unit up to F6 in the paper.</summary>
    Squashed = 1,
}

/// <summary>What a layer applies to its weighted sums; the integer values are what kernels receive.</summary>
public enum Activation
{
    Identity = 0,
    ScaledTanh = 1,
    Sigmoid = 2,
}

public static class SquashingExtensions
{
    public static Activation ToActivation(this Squashing squashing) => (Activation)(int)squashing;

    /// <summary>What C1 and C3 apply: the model's squashing function, or the identity when they are linear.</summary>
    public static Activation ConvolutionActivation(this Squashing squashing, ConvolutionSquashing convolutions) =>
        convolutions == ConvolutionSquashing.Squashed ? squashing.ToActivation() : Activation.Identity;

    /// <summary>The name used in files and on the command line.</summary>
    public static string ToName(this ConvolutionSquashing convolutions) => convolutions switch
    {
        ConvolutionSquashing.Linear => "linear",
        ConvolutionSquashing.Squashed => "squashed",
        _ => throw new ArgumentOutOfRangeException(nameof(convolutions), convolutions, "unknown convolution squashing"),
    };

    public static ConvolutionSquashing ParseConvolutionSquashing(string name) => EnumNames.Parse(name, "convolution squashing",
        ("linear", ConvolutionSquashing.Linear), ("squashed", ConvolutionSquashing.Squashed));

    /// <summary>The name used in files and on the command line.</summary>
    public static string ToName(this Squashing squashing) => squashing switch
    {
        Squashing.ScaledTanh => "scaled-tanh",
        Squashing.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(squashing), squashing, "unknown squashing function"),
    };

    public static Squashing ParseSquashing(string name) => EnumNames.Parse(name, "squashing function",
        ("scaled-tanh", Squashing.ScaledTanh), ("sigmoid", Squashing.Sigmoid), ("tanh", Squashing.ScaledTanh), ("logistic", Squashing.Sigmoid));
}

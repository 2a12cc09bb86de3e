namespace LeNet.Gpu.Model;

/// <summary>The squashing function a model applies after S2, S4, C5 and F6. It belongs to the model.</summary>
public enum Squashing
{
    /// <summary>The paper's f(a) = 1.7159·tanh(2a/3) (Appendix A).</summary>
    ScaledTanh = 1,

    /// <summary>The logistic sigmoid 1 / (1 + e^−a), the word the seed uses.</summary>
    Sigmoid = 2,
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

    /// <summary>The name used in files and on the command line.</summary>
    public static string ToName(this Squashing squashing) => squashing switch
    {
        Squashing.ScaledTanh => "scaled-tanh",
        Squashing.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(squashing), squashing, "unknown squashing function"),
    };

    public static Squashing ParseSquashing(string name) => name.ToLowerInvariant() switch
    {
        "scaled-tanh" or "tanh" => Squashing.ScaledTanh,
        "sigmoid" or "logistic" => Squashing.Sigmoid,
        _ => throw new ArgumentException($"unknown squashing function '{name}' (expected scaled-tanh or sigmoid)"),
    };
}

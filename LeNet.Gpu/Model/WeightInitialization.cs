namespace LeNet.Gpu.Model;

/// <summary>How a fresh model's parameters are drawn. Both draw one uniform number per parameter in the same order from
/// the same seeded generator, and differ only in the range, so a seed means the same thing under either.</summary>
public enum WeightInitialization
{
    /// <summary>
    /// Every weight, coefficient and bias uniform in ±2.4/F_in (the paper's Appendix A). A weighted sum of F_in inputs
    /// then has a standard deviation of √(1.92/F_in) times its inputs': 0.28 at C1 (25 inputs), 0.07 at C5 (400), so
    /// the signal reaching C5 and F6 is a few hundredths and plain SGD first sits on a plateau at chance.
    /// </summary>
    Paper = 1,

    /// <summary>
    /// Weights and coefficients uniform in ±√(3/F_in), i.e. variance 1/F_in; biases 0. With f(a) = 1.7159·tanh(2a/3)
    /// (slope ≈ 1 at 0) each layer then passes on a signal of about its input's size (LeCun, Bottou, Orr, Müller,
    /// "Efficient BackProp", 1998, §4.6), so C5 and F6 carry order-one activations and gradients from the first step.
    /// </summary>
    UnitVariance = 2,
}

public static class WeightInitializationExtensions
{
    /// <summary>The name used on the command line and in files.</summary>
    public static string ToName(this WeightInitialization initialization) => initialization switch
    {
        WeightInitialization.Paper => "paper",
        WeightInitialization.UnitVariance => "unit-variance",
        _ => throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "unknown weight initialisation"),
    };

    public static WeightInitialization ParseWeightInitialization(string name) => name.Trim().ToLowerInvariant() switch
    {
        "paper" => WeightInitialization.Paper,
        "unit-variance" => WeightInitialization.UnitVariance,
        _ => throw new ArgumentException($"unknown initialisation '{name}' (expected paper or unit-variance)"),
    };
}

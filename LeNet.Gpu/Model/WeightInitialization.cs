namespace LeNet.Gpu.Model;

/// <summary>How a fresh model's parameters are drawn. All draw one uniform number per parameter in the same order from
/// the same seeded generator and differ in the ranges only, so a seed means the same thing under each.</summary>
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

    /// <summary>
    /// <see cref="UnitVariance"/>, with C1's weights then divided by the root mean square of the training images. The
    /// 1/F_in rule assumes inputs of unit variance, which the network's own layers roughly deliver but the data need
    /// not: the paper's input scale (background −0.1, ink 1.175) was meant to give about that, yet a 32×32 field that
    /// is mostly background has an RMS of 0.35 on MNIST. Dividing C1's weights by it is, at step 0, the same as
    /// feeding unit-RMS images (Efficient BackProp §4.3) while the input rule stays the paper's. It needs the
    /// training images (<see cref="InputStatistics.RootMeanSquare"/>), not their labels.
    /// </summary>
    InputScaled = 3,
}

/// <summary>Statistics of training images that an initialisation may use.</summary>
public static class InputStatistics
{
    /// <summary>
    /// √(mean of x²) over every pixel of <paramref name="images"/> (32×32 floats in the model's input scale), summed in
    /// double precision in order, so the same images always give the same bits.
    /// </summary>
    public static double RootMeanSquare(ReadOnlySpan<float> images)
    {
        if (images.Length == 0) throw new ArgumentException("no training images to measure", nameof(images));
        double sum = 0;
        foreach (float x in images) sum += (double)x * x;
        double rms = Math.Sqrt(sum / images.Length);
        if (!(rms > 0) || !double.IsFinite(rms))
            throw new ArgumentException($"the training images' root mean square is {rms}: they cannot scale C1's weights", nameof(images));
        return rms;
    }
}

public static class WeightInitializationExtensions
{
    /// <summary>The name used on the command line and in files.</summary>
    public static string ToName(this WeightInitialization initialization) => initialization switch
    {
        WeightInitialization.Paper => "paper",
        WeightInitialization.UnitVariance => "unit-variance",
        WeightInitialization.InputScaled => "input-scaled",
        _ => throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "unknown weight initialisation"),
    };

    public static WeightInitialization ParseWeightInitialization(string name) => EnumNames.Parse(name, "initialisation",
        ("input-scaled", WeightInitialization.InputScaled), ("unit-variance", WeightInitialization.UnitVariance), ("paper", WeightInitialization.Paper));
}

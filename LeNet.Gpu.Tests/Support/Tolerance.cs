using Xunit;

namespace LeNet.Gpu.Tests.Support;

/// <summary>
/// Normwise relative error of a float32 result against a float64 reference, per tensor:
/// <code>error = max_i |actual_i − expected_i| / max(max_i |expected_i|, floor)</code>
/// The floor (1e-3 for activations) keeps a tensor that is (almost) all zero from turning float rounding into a huge
/// ratio. Gradients are much smaller than activations (1e-5 is common), so their tests pass a smaller floor.
/// Any NaN or infinity in the result fails outright: outputs are poisoned with NaN before a run, so an
/// element no kernel wrote shows up here.
/// </summary>
public static class Tolerance
{
    /// <summary>The bound every kernel result must meet against the float64 reference.</summary>
    public const double Kernel = 1e-5;

    public const double ActivationFloor = 1e-3;

    public static double NormwiseError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double floor = ActivationFloor)
    {
        if (actual.Length != expected.Length)
            throw new ArgumentException($"length {actual.Length} vs expected {expected.Length}");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        return maxDiff / Math.Max(maxRef, floor);
    }

    /// <summary>The same measure against a float32 result taken as the reference (one engine against another).</summary>
    public static double NormwiseError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor = ActivationFloor)
    {
        var widened = new double[expected.Length];
        for (int i = 0; i < widened.Length; i++) widened[i] = expected[i];
        return NormwiseError(actual, widened, floor);
    }

    /// <summary>Fails unless every element is finite and the normwise error is within <paramref name="bound"/>.</summary>
    public static void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected,
        double bound = Kernel, double floor = ActivationFloor)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < actual.Length; i++)
            Assert.True(float.IsFinite(actual[i]), $"{what}: element {i} is {actual[i]} (never written, or a non-finite result)");
        double error = NormwiseError(actual, expected, floor);
        Assert.True(error <= bound, $"{what}: normwise relative error {error:E3} exceeds {bound:E1}");
    }

    /// <summary>
    /// Predicted classes must equal the reference's argmax, except for images whose two largest reference logits
    /// are closer than 10× the kernel tolerance (there float rounding may legitimately pick the other). At most a
    /// tenth of the images may be exempt, so the check cannot pass vacuously.
    /// </summary>
    public static void AssertClasses(string what, IReadOnlyList<int> actual, IReadOnlyList<double[]> referenceLogits)
    {
        Assert.Equal(referenceLogits.Count, actual.Count);
        int exempt = 0;
        for (int n = 0; n < actual.Count; n++)
        {
            var logits = referenceLogits[n];
            var sorted = logits.OrderByDescending(v => v).ToArray();
            double scale = Math.Max(logits.Max(Math.Abs), 1e-3);
            if (sorted[0] - sorted[1] < 10 * Kernel * scale) { exempt++; continue; }
            Assert.True(actual[n] == Reference.ReferenceLeNet.ArgMax(logits),
                $"{what}: image {n} classified {actual[n]}, reference {Reference.ReferenceLeNet.ArgMax(logits)}");
        }
        Assert.True(exempt <= actual.Count / 10, $"{what}: {exempt} of {actual.Count} images have near-tied logits; pick another seed");
    }
}

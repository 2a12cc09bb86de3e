using LeNet.Gpu.Model;
using Xunit;
using Xunit.Abstractions;

namespace LeNet.Gpu.Tests.Reference;

/// <summary>
/// Checks of the float64 reference itself: closed-form cases for the forward pass, central finite differences
/// of its forward pass against its backward pass, and the closed form of the second-order diagonal's top layers.
/// The kernel and CPU-engine tests are only as good as this reference.
/// </summary>
public sealed class ReferenceLeNetTests(ITestOutputHelper output)
{
    private static double[] Constant(double v, int n) => Enumerable.Repeat(v, n).ToArray();

    [Fact]
    public void C1IsAValidCrossCorrelationWithBias()
    {
        // A single lit pixel shows the orientation: c1[m,y,x] = b + w[m, y0−y, x0−x] inside the 5×5 window.
        var p = new double[ParameterLayout.Length];
        for (int m = 0; m < 6; m++)
        {
            p[ParameterLayout.C1Bias.Offset + m] = 0.5 + m;
            for (int ky = 0; ky < 5; ky++)
                for (int kx = 0; kx < 5; kx++)
                    p[ParameterLayout.C1Weight.Offset + (m * 5 + ky) * 5 + kx] = m * 100 + ky * 10 + kx;
        }
        var input = new double[1024];
        const int y0 = 10, x0 = 12;
        input[y0 * 32 + x0] = 1;
        var c1 = new ReferenceLeNet(p, Squashing.ScaledTanh).C1Layer(input);
        for (int m = 0; m < 6; m++)
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    int ky = y0 - y, kx = x0 - x;
                    double expected = 0.5 + m + (ky is >= 0 and < 5 && kx is >= 0 and < 5 ? m * 100 + ky * 10 + kx : 0);
                    Assert.Equal(expected, c1[(m * 28 + y) * 28 + x]);
                }
    }

    public static TheoryData<Squashing, ConvolutionSquashing> SquashingsAndConvolutions()
    {
        var data = new TheoryData<Squashing, ConvolutionSquashing>();
        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
            foreach (var convolutions in new[] { ConvolutionSquashing.Linear, ConvolutionSquashing.Squashed })
                data.Add(squashing, convolutions);
        return data;
    }

    [Theory]
    [MemberData(nameof(SquashingsAndConvolutions))]
    public void ForwardOfAConstantNetworkMatchesClosedForm(Squashing squashing, ConvolutionSquashing convolutions)
    {
        // Every tensor constant (per map where noted), so each layer has a one-line closed form. The masked C3
        // weights hold the same value as the connected ones: only Table I's inputs may count.
        var p = ConstantNetwork();
        const double v = 0.3, alpha = 0.02, beta = -0.1, gamma = 0.7, eps = 0.03, gamma4 = 0.4, zeta = 0.005, eta = 0.01;

        double F(double a) => squashing == Squashing.ScaledTanh ? 1.7159 * Math.Tanh(2 * a / 3) : 1 / (1 + Math.Exp(-a));
        // C1 and C3 pass on their sums, or f of them (the paper's network).
        double G(double a) => convolutions == ConvolutionSquashing.Squashed ? F(a) : a;
        double c1a = beta + 25 * alpha * v, c1 = G(c1a);
        var s2 = Enumerable.Range(0, 6).Select(i => F(gamma * 4 * c1 + 0.1 * i)).ToArray();
        var c3a = Enumerable.Range(0, 16).Select(o => -0.05 * o + 25 * eps * ReferenceLeNet.C3Inputs[o].Sum(i => s2[i])).ToArray();
        var c3 = c3a.Select(G).ToArray();
        var s4 = Enumerable.Range(0, 16).Select(o => F(gamma4 * 4 * c3[o] + 0.02 * o)).ToArray();
        var c5 = Enumerable.Range(0, 120).Select(o => F(0.001 * o + 25 * zeta * s4.Sum())).ToArray();
        var f6 = Enumerable.Range(0, 84).Select(o => F(-0.01 * o + eta * c5.Sum())).ToArray();
        var logits = Enumerable.Range(0, 10).Select(o => 0.1 * o + 0.01 * (o + 1) * f6.Sum()).ToArray();

        var r = new ReferenceLeNet(p, squashing) { Convolutions = convolutions }.Forward(Constant(v, 1024));
        Assert.All(r.C1A, a => Assert.Equal(c1a, a, 12));
        Assert.All(r.C1, a => Assert.Equal(c1, a, 12));
        for (int o = 0; o < 16; o++) Assert.All(r.C3A.Skip(o * 100).Take(100), a => Assert.Equal(c3a[o], a, 12));
        for (int m = 0; m < 6; m++) Assert.All(r.S2.Skip(m * 196).Take(196), a => Assert.Equal(s2[m], a, 12));
        for (int o = 0; o < 16; o++) Assert.All(r.C3.Skip(o * 100).Take(100), a => Assert.Equal(c3[o], a, 12));
        for (int o = 0; o < 16; o++) Assert.All(r.S4.Skip(o * 25).Take(25), a => Assert.Equal(s4[o], a, 12));
        for (int o = 0; o < 120; o++) Assert.Equal(c5[o], r.C5[o], 12);
        for (int o = 0; o < 84; o++) Assert.Equal(f6[o], r.F6[o], 12);
        for (int o = 0; o < 10; o++) Assert.Equal(logits[o], r.Logits[o], 12);
        var e = logits.Select(Math.Exp).ToArray();
        for (int o = 0; o < 10; o++) Assert.Equal(e[o] / e.Sum(), r.Probabilities[o], 12);
        Assert.Equal(9, r.Class); // logits grow with the class index here
    }

    /// <summary>
    /// Every tensor constant (per map where noted), the values <see cref="ForwardOfAConstantNetworkMatchesClosedForm"/>
    /// writes out: α = 0.02 (C1 weights), β = −0.1 (C1 bias), γ = 0.7 (S2), ε = 0.03 (C3, masked entries included),
    /// γ4 = 0.4 (S4), ζ = 0.005 (C5), η = 0.01 (F6). A constant input makes every C1 and C3 map constant.
    /// </summary>
    private static double[] ConstantNetwork()
    {
        var p = new double[ParameterLayout.Length];
        void Fill(ParameterSlice s, Func<int, double> value) { for (int i = 0; i < s.Length; i++) p[s.Offset + i] = value(i); }
        Fill(ParameterLayout.C1Weight, _ => 0.02);
        Fill(ParameterLayout.C1Bias, _ => -0.1);
        Fill(ParameterLayout.S2Coefficient, _ => 0.7);
        Fill(ParameterLayout.S2Bias, i => 0.1 * i);
        Fill(ParameterLayout.C3Weight, _ => 0.03);
        Fill(ParameterLayout.C3Bias, o => -0.05 * o);
        Fill(ParameterLayout.S4Coefficient, _ => 0.4);
        Fill(ParameterLayout.S4Bias, o => 0.02 * o);
        Fill(ParameterLayout.C5Weight, _ => 0.005);
        Fill(ParameterLayout.C5Bias, o => 0.001 * o);
        Fill(ParameterLayout.F6Weight, _ => 0.01);
        Fill(ParameterLayout.F6Bias, o => -0.01 * o);
        Fill(ParameterLayout.OutputWeight, i => 0.01 * (i / 84 + 1));
        Fill(ParameterLayout.OutputBias, o => 0.1 * o);
        return p;
    }

    [Theory]
    [MemberData(nameof(SquashingsAndConvolutions))]
    public void ConvolutionBiasesFollowTheSubsamplingBelowThemByTheChainRule(Squashing squashing, ConvolutionSquashing convolutions)
    {
        // On the constant network each C1 map (and each C3 map) has one weighted sum a everywhere, so g = f'(a) is one
        // number per map (1 when linear). Each of a subsampling unit's 4 inputs gets c·(its dE/da), so
        //   first order:  dE/d(C1 bias m) = 4·c_m·g_m·dE/d(S2 bias m),   second: 4·c_m²·g_m²·(S2 bias m's entry),
        // and the same between C3 and S4. A reference that skipped f' at a squashed convolution would be off by g or g².
        var p = ConstantNetwork();
        var reference = new ReferenceLeNet(p, squashing) { Convolutions = convolutions };
        var inputs = new[] { Constant(0.3, 1024), Constant(-0.05, 1024) };
        var labels = new[] { 2, 7 };
        var forward = inputs.Select(reference.Forward).ToArray();
        bool squashed = convolutions == ConvolutionSquashing.Squashed;
        foreach (bool secondOrder in new[] { false, true })
        {
            var g = secondOrder ? reference.GaussNewtonDiagonal(inputs, labels, out _) : reference.Gradient(inputs, labels, out _);
            double Q(double x) => secondOrder ? x * x : x;
            void Check(ParameterSlice convolutionBias, ParameterSlice subsamplingCoefficient, ParameterSlice subsamplingBias,
                Func<ReferenceActivations, double[]> sums, int mapSize)
            {
                for (int m = 0; m < convolutionBias.Length; m++)
                {
                    // The chain holds per image (each has its own f'), so the batch mean is built from single-image runs.
                    double expected = 0;
                    for (int n = 0; n < 2; n++)
                    {
                        var single = secondOrder ? reference.GaussNewtonDiagonal([inputs[n]], [labels[n]], out _) : reference.Gradient([inputs[n]], [labels[n]], out _);
                        double d = squashed ? ReferenceLeNet.SquashDerivative(sums(forward[n])[m * mapSize], squashing) : 1;
                        expected += 4 * Q(p[subsamplingCoefficient.Offset + m]) * Q(d) * single[subsamplingBias.Offset + m] / 2;
                    }
                    double actual = g[convolutionBias.Offset + m];
                    Assert.True(Math.Abs(actual - expected) <= 1e-12 * Math.Max(Math.Abs(expected), 1e-6),
                        $"{(secondOrder ? "second" : "first")} order, {convolutionBias.Name}[{m}]: {actual:E10}, chain rule {expected:E10}");
                }
            }
            Check(ParameterLayout.C1Bias, ParameterLayout.S2Coefficient, ParameterLayout.S2Bias, f => f.C1A, 28 * 28);
            Check(ParameterLayout.C3Bias, ParameterLayout.S4Coefficient, ParameterLayout.S4Bias, f => f.C3A, 10 * 10);
        }
        // Not vacuous: f'(a) is far from 1 in every C1 map and in some C3 maps, so leaving it out would show.
        if (squashed)
            foreach (var f in forward)
            {
                for (int m = 0; m < 6; m++) Assert.True(Math.Abs(ReferenceLeNet.SquashDerivative(f.C1A[m * 784], squashing) - 1) > 0.1);
                Assert.Contains(Enumerable.Range(0, 16), o => Math.Abs(ReferenceLeNet.SquashDerivative(f.C3A[o * 100], squashing) - 1) > 0.1);
            }
    }

    [Fact]
    public void MnistPaddingFollowsThePaper()
    {
        var raw = new byte[784];
        raw[0] = 255; raw[783] = 51; raw[28 * 14 + 3] = 128;
        var field = ReferenceLeNet.PadMnist(raw);
        Assert.Equal(1024, field.Length);
        Assert.Equal(1.175, field[2 * 32 + 2], 12);                 // full ink, top-left of the 28×28 field
        Assert.Equal(-0.1 + 1.275 * 51 / 255.0, field[29 * 32 + 29], 12);
        Assert.Equal(-0.1 + 1.275 * 128 / 255.0, field[16 * 32 + 5], 12);
        int border = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                if (y < 2 || y >= 30 || x < 2 || x >= 30) { border++; Assert.Equal(-0.1, field[y * 32 + x]); }
        Assert.Equal(1024 - 784, border);
    }

    [Theory]
    [MemberData(nameof(SquashingsAndConvolutions))]
    public void BackwardMatchesCentralFiniteDifferences(Squashing squashing, ConvolutionSquashing convolutions)
    {
        // Paper initialisation, larger-than-usual inputs so units leave the linear part of f, 3 images.
        var model = LeNetModel.CreateRandom(seed: 11 + (int)squashing, squashing, convolutions: convolutions);
        var random = new Random(5);
        var inputs = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray()).ToList();
        var labels = new[] { 3, 7, 0 };
        var reference = new ReferenceLeNet(model);
        var gradient = reference.Gradient(inputs, labels, out double loss);
        Assert.Equal(reference.Loss(inputs, labels), loss, 12);

        // Samples from every slice; in C3 both connected and masked weights (the latter must be exactly 0).
        var samples = new List<int>();
        foreach (var slice in ParameterLayout.Slices)
            samples.AddRange(Enumerable.Range(0, 6).Select(_ => slice.Offset + random.Next(slice.Length)));
        var mask = ParameterLayout.TrainableMask();
        samples.AddRange(Enumerable.Range(ParameterLayout.C3Weight.Offset, ParameterLayout.C3Weight.Length)
            .Where(i => mask[i] == 0).Take(3));
        samples.AddRange(Enumerable.Range(ParameterLayout.C3Weight.Offset, ParameterLayout.C3Weight.Length)
            .Where(i => mask[i] == 1).Where((_, k) => k % 97 == 0));

        // Central differences in double: truncation O(h²) and rounding ~1e-16·loss/h are both far below the bound.
        const double h = 1e-5;
        double worst = 0;
        foreach (int i in samples.Distinct())
        {
            double numeric = reference.CentralDifference(i, inputs, labels, h);
            double error = Math.Abs(numeric - gradient[i]);
            double bound = 1e-6 * Math.Abs(gradient[i]) + 1e-9;
            worst = Math.Max(worst, error / bound);
            Assert.True(error <= bound,
                $"parameter {i} ({ParameterLayout.Slices.First(s => i >= s.Offset && i < s.End).Name}): analytic {gradient[i]:E6}, numeric {numeric:E6}");
            if (mask[i] == 0) Assert.Equal(0.0, gradient[i]);
        }
        output.WriteLine($"{samples.Distinct().Count()} parameters, worst error/bound {worst:F3}");
        // Every masked C3 weight gets exactly 0, and the gradient is not trivially zero elsewhere.
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.Equal(0.0, gradient[i]);
        foreach (var slice in ParameterLayout.Slices)
            Assert.True(Enumerable.Range(slice.Offset, slice.Length).Any(i => gradient[i] != 0), $"{slice.Name}: gradient all zero");
    }

    [Theory]
    [MemberData(nameof(SquashingsAndConvolutions))]
    public void GaussNewtonDiagonalHasTheClosedFormAtTheTopAndIsNonNegativeEverywhere(Squashing squashing, ConvolutionSquashing convolutions)
    {
        var model = LeNetModel.CreateRandom(seed: 21 + (int)squashing, squashing, convolutions: convolutions);
        var random = new Random(6);
        var inputs = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray()).ToList();
        var labels = new[] { 1, 4, 9 };
        var reference = new ReferenceLeNet(model);
        var h = reference.GaussNewtonDiagonal(inputs, labels, out double loss);
        reference.Gradient(inputs, labels, out double firstOrderLoss);
        Assert.Equal(firstOrderLoss, loss);

        // The top two layers written out from the forward activations: with σ_c = p_c(1 − p_c),
        // output.bias[c] = mean σ_c, output.weight[c,j] = mean σ_c·f6_j², f6.bias[j] = mean f'(a_j)²·Σ_c σ_c·w_cj².
        var forward = inputs.Select(reference.Forward).ToArray();
        double Sigma(int n, int c) => forward[n].Probabilities[c] * (1 - forward[n].Probabilities[c]);
        var p = reference.Parameters;
        for (int c = 0; c < 10; c++)
        {
            int k = c;
            Assert.Equal(forward.Select((_, n) => Sigma(n, k)).Average(), h[ParameterLayout.OutputBias.Offset + c], 14);
            for (int j = 0; j < 84; j += 13)
                Assert.Equal(forward.Select((f, n) => Sigma(n, k) * f.F6[j] * f.F6[j]).Average(),
                    h[ParameterLayout.OutputWeight.Offset + c * 84 + j], 14);
        }
        for (int j = 0; j < 84; j += 7)
        {
            double expected = forward.Select((f, n) =>
            {
                double d = ReferenceLeNet.SquashDerivative(f.F6A[j], squashing);
                return d * d * Enumerable.Range(0, 10).Sum(c => Sigma(n, c) * Math.Pow(p[ParameterLayout.OutputWeight.Offset + c * 84 + j], 2));
            }).Average();
            Assert.Equal(expected, h[ParameterLayout.F6Bias.Offset + j], 14);
        }

        // Below, every entry is a sum of products of squares and σ: never negative, exactly 0 where Table I has no
        // connection, and not all zero in any slice.
        var mask = ParameterLayout.TrainableMask();
        for (int i = 0; i < h.Length; i++)
        {
            Assert.True(h[i] >= 0, $"entry {i} is {h[i]}");
            if (mask[i] == 0) Assert.Equal(0.0, h[i]);
        }
        foreach (var slice in ParameterLayout.Slices)
            Assert.True(Enumerable.Range(slice.Offset, slice.Length).Any(i => h[i] > 0), $"{slice.Name}: diagonal all zero");
    }

    [Fact]
    public void SquashDerivativeMatchesDifferences()
    {
        foreach (var s in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
            foreach (double a in new[] { -4.0, -0.7, 0.0, 0.3, 2.5 })
            {
                double numeric = (ReferenceLeNet.Squash(a + 1e-6, s) - ReferenceLeNet.Squash(a - 1e-6, s)) / 2e-6;
                Assert.Equal(numeric, ReferenceLeNet.SquashDerivative(a, s), 8);
            }
        Assert.Equal(1.0, ReferenceLeNet.Squash(1, Squashing.ScaledTanh), 3); // the paper's choice makes f(±1) = ±1
        Assert.Equal(0.5, ReferenceLeNet.Squash(0, Squashing.Sigmoid));
    }

    [Theory]
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void MapGradientWithSquashedConvolutionsMatchesCentralFiniteDifferences(Squashing squashing)
    {
        // The RBF output and MAP loss over the paper's network (C1 and C3 squashed); a sample of every trained slice.
        var model = LeNetModel.CreateRandom(31, squashing, output: OutputLayer.Rbf, convolutions: ConvolutionSquashing.Squashed);
        var random = new Random(12);
        var inputs = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray()).ToList();
        var labels = new[] { 5, 8 };
        var reference = new ReferenceLeNet(model) { MapJ = 3 };
        Assert.Equal(ConvolutionSquashing.Squashed, reference.Convolutions); // taken from the model
        var gradient = reference.Gradient(inputs, labels, out double loss);
        Assert.Equal(reference.Loss(inputs, labels), loss, 12);
        const double h = 1e-5;
        foreach (var slice in ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputWeight && s != ParameterLayout.OutputBias))
            for (int t = 0; t < 4; t++)
            {
                int i = slice.Offset + random.Next(slice.Length);
                double numeric = reference.CentralDifference(i, inputs, labels, h);
                Assert.True(Math.Abs(numeric - gradient[i]) <= 1e-6 * Math.Abs(gradient[i]) + 1e-8,
                    $"{slice.Name}[{i - slice.Offset}]: analytic {gradient[i]:E6}, numeric {numeric:E6}");
            }
        foreach (var slice in new[] { ParameterLayout.C1Weight, ParameterLayout.C1Bias, ParameterLayout.C3Weight, ParameterLayout.C3Bias })
            Assert.True(Enumerable.Range(slice.Offset, slice.Length).Any(i => gradient[i] != 0), $"{slice.Name}: gradient all zero");
    }

    [Theory]
    [MemberData(nameof(SquashingsAndConvolutions))]
    public void MapSecondOrderHasTheCurvatureOfTheCriterionAtF6(Squashing squashing, ConvolutionSquashing convolutions)
    {
        // RBF output: the diagonal starts at F6 from d²E/dx_k² ≈ 2 + 4·Σ_i q_i(1 − q_i)·(x_k − c_ik)², q the MAP's
        // softmax over (−y, −j); F6's bias entry is then the batch mean of f'(a_k)² times it. The fixed centres get 0.
        var model = LeNetModel.CreateRandom(41, squashing, output: OutputLayer.Rbf, convolutions: convolutions);
        var random = new Random(13);
        var inputs = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 1024).Select(_ => 3 * random.NextDouble() - 1).ToArray()).ToList();
        var labels = new[] { 0, 6, 3 };
        const double j = 2;
        var reference = new ReferenceLeNet(model) { MapJ = j };
        var diagonal = reference.GaussNewtonDiagonal(inputs, labels, out double loss);
        Assert.Equal(reference.Loss(inputs, labels), loss, 12);
        var centres = reference.Parameters.AsSpan(ParameterLayout.OutputWeight.Offset, 840).ToArray();
        for (int k = 0; k < 84; k++)
        {
            double expected = inputs.Average(x =>
            {
                var f = reference.Forward(x);
                var e = f.Logits.Select(Math.Exp).ToArray();
                double total = Math.Exp(-j) + e.Sum();
                double curvature = 2;
                for (int i = 0; i < 10; i++)
                {
                    double q = e[i] / total, r = f.F6[k] - centres[i * 84 + k];
                    curvature += 4 * q * (1 - q) * r * r;
                }
                double d = ReferenceLeNet.SquashDerivative(f.F6A[k], squashing);
                return d * d * curvature;
            });
            Assert.Equal(expected, diagonal[ParameterLayout.F6Bias.Offset + k], 12);
        }
        var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
        for (int i = 0; i < diagonal.Length; i++)
        {
            Assert.True(diagonal[i] >= 0, $"entry {i} is {diagonal[i]}");
            if (mask[i] == 0) Assert.Equal(0.0, diagonal[i]);
        }
        foreach (var slice in ParameterLayout.Slices.Where(s => s != ParameterLayout.OutputWeight && s != ParameterLayout.OutputBias))
            Assert.True(Enumerable.Range(slice.Offset, slice.Length).Any(i => diagonal[i] > 0), $"{slice.Name}: diagonal all zero");
    }
}

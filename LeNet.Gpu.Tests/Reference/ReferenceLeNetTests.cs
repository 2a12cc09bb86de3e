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

    [Theory]
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void ForwardOfAConstantNetworkMatchesClosedForm(Squashing squashing)
    {
        // Every tensor constant (per map where noted), so each layer has a one-line closed form. The masked C3
        // weights hold the same value as the connected ones: only Table I's inputs may count.
        var p = new double[ParameterLayout.Length];
        void Fill(ParameterSlice s, Func<int, double> value) { for (int i = 0; i < s.Length; i++) p[s.Offset + i] = value(i); }
        const double v = 0.3, alpha = 0.02, beta = -0.1, gamma = 0.7, eps = 0.03, gamma4 = 0.4, zeta = 0.005, eta = 0.01;
        Fill(ParameterLayout.C1Weight, _ => alpha);
        Fill(ParameterLayout.C1Bias, _ => beta);
        Fill(ParameterLayout.S2Coefficient, _ => gamma);
        Fill(ParameterLayout.S2Bias, i => 0.1 * i);
        Fill(ParameterLayout.C3Weight, _ => eps);
        Fill(ParameterLayout.C3Bias, o => -0.05 * o);
        Fill(ParameterLayout.S4Coefficient, _ => gamma4);
        Fill(ParameterLayout.S4Bias, o => 0.02 * o);
        Fill(ParameterLayout.C5Weight, _ => zeta);
        Fill(ParameterLayout.C5Bias, o => 0.001 * o);
        Fill(ParameterLayout.F6Weight, _ => eta);
        Fill(ParameterLayout.F6Bias, o => -0.01 * o);
        Fill(ParameterLayout.OutputWeight, i => 0.01 * (i / 84 + 1));
        Fill(ParameterLayout.OutputBias, o => 0.1 * o);

        double F(double a) => squashing == Squashing.ScaledTanh ? 1.7159 * Math.Tanh(2 * a / 3) : 1 / (1 + Math.Exp(-a));
        double c1 = beta + 25 * alpha * v;
        var s2 = Enumerable.Range(0, 6).Select(i => F(gamma * 4 * c1 + 0.1 * i)).ToArray();
        var c3 = Enumerable.Range(0, 16).Select(o => -0.05 * o + 25 * eps * ReferenceLeNet.C3Inputs[o].Sum(i => s2[i])).ToArray();
        var s4 = Enumerable.Range(0, 16).Select(o => F(gamma4 * 4 * c3[o] + 0.02 * o)).ToArray();
        var c5 = Enumerable.Range(0, 120).Select(o => F(0.001 * o + 25 * zeta * s4.Sum())).ToArray();
        var f6 = Enumerable.Range(0, 84).Select(o => F(-0.01 * o + eta * c5.Sum())).ToArray();
        var logits = Enumerable.Range(0, 10).Select(o => 0.1 * o + 0.01 * (o + 1) * f6.Sum()).ToArray();

        var r = new ReferenceLeNet(p, squashing).Forward(Constant(v, 1024));
        Assert.All(r.C1, a => Assert.Equal(c1, a, 12));
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
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void BackwardMatchesCentralFiniteDifferences(Squashing squashing)
    {
        // Paper initialisation, larger-than-usual inputs so units leave the linear part of f, 3 images.
        var model = LeNetModel.CreateRandom(seed: 11 + (int)squashing, squashing);
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
            var plus = (double[])reference.Parameters.Clone();
            var minus = (double[])reference.Parameters.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (new ReferenceLeNet(plus, squashing).Loss(inputs, labels) - new ReferenceLeNet(minus, squashing).Loss(inputs, labels)) / (2 * h);
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
    [InlineData(Squashing.ScaledTanh)]
    [InlineData(Squashing.Sigmoid)]
    public void GaussNewtonDiagonalHasTheClosedFormAtTheTopAndIsNonNegativeEverywhere(Squashing squashing)
    {
        var model = LeNetModel.CreateRandom(seed: 21 + (int)squashing, squashing);
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
}

using LeNet.Gpu.Model;

namespace LeNet.Gpu.Tests.Reference;

/// <summary>Every layer of one image's forward pass, image-major, in double. "…A" arrays are weighted sums before squashing.</summary>
public sealed class ReferenceActivations
{
    public required double[] Input { get; init; }        // [32][32]
    public required double[] C1A { get; init; }          // [6][28][28]  weighted sums
    public required double[] C1 { get; init; }           // [6][28][28]  C1A (linear) or f(C1A) (squashed)
    public required double[] S2A { get; init; }          // [6][14][14]  weighted sums
    public required double[] S2 { get; init; }           // [6][14][14]
    public required double[] C3A { get; init; }          // [16][10][10] weighted sums
    public required double[] C3 { get; init; }           // [16][10][10] C3A (linear) or f(C3A) (squashed)
    public required double[] S4A { get; init; }          // [16][5][5]
    public required double[] S4 { get; init; }           // [16][5][5]
    public required double[] C5A { get; init; }          // [120]
    public required double[] C5 { get; init; }           // [120]
    public required double[] F6A { get; init; }          // [84]
    public required double[] F6 { get; init; }           // [84]
    public required double[] Logits { get; init; }       // [10]
    public required double[] Probabilities { get; init; } // [10]
    public int Class => ReferenceLeNet.ArgMax(Logits);
}

/// <summary>
/// A plain float64 LeNet-5, written from the paper and the architecture seed, sharing no code with the kernels:
/// scalar loops over image-major arrays. It reads only parameter <i>values</i> from the flat buffer, through the
/// slice offsets of <see cref="ParameterLayout"/> (the layout is the contract), and keeps its own copy of Table I.
/// <code>
/// C1  y = g(b + Σ w·x) (5×5, 1→6)                   S2  y = f(c·(2×2 block sum) + b)
/// C3  y = g(b + Σ_{i ∈ Table I} Σ w·x) (6→16)         S4  y = f(c·(2×2 block sum) + b)
/// C5  y = f(b + Σ w·x) (16@5x5 → 120)             F6  y = f(b + W·x) (120 → 84)
/// OUTPUT logits = b + W·x (84 → 10), softmax; loss = mean over the batch of −log p[label]
/// </code>
/// f is 1.7159·tanh(2a/3) or the logistic sigmoid; g is the identity (<see cref="ConvolutionSquashing.Linear"/>, the
/// default) or f (<see cref="ConvolutionSquashing.Squashed"/>, the paper's network: <see cref="Convolutions"/>).
/// <see cref="GaussNewtonDiagonal"/> is the backward pass of the paper's second-order mode (Appendix C), as the
/// engines run it for the Hessian estimate: p(1−p)/N at the logits (RBF: the MAP curvature at F6), then every factor
/// squared (weights, coefficients, squashing derivatives, and the inputs of each weight).
/// </summary>
public sealed class ReferenceLeNet
{
    /// <summary>Table I of the paper as 0-based S2 maps feeding each C3 map (hard-coded independently of the library).</summary>
    public static readonly int[][] C3Inputs =
    [
        [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
        [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
        [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
        [0, 1, 2, 3, 4, 5],
    ];

    public static bool C3Connected(int output, int input) => Array.IndexOf(C3Inputs[output], input) >= 0;

    private const int K = 5;
    private readonly double[] p;

    public Squashing Squashing { get; }

    // Offsets of every tensor in the flat buffer (the contract of ParameterLayout).
    private readonly int c1w, c1b, s2c, s2b, c3w, c3b, s4c, s4b, c5w, c5b, f6w, f6b, ow, ob;

    /// <summary>
    /// The paper's RBF output instead of the dense + softmax one: Logits are then −y_i = −Σ_j (x_j − c_ij)², computed
    /// as written (not expanded), with c the model's output.weight; the loss is the MAP criterion with <see cref="MapJ"/>.
    /// </summary>
    public OutputLayer Output { get; init; }

    /// <summary>The MAP criterion's j (RBF output only).</summary>
    public double MapJ { get; init; } = 10;

    /// <summary>
    /// Whether C1 and C3 pass on their weighted sums (<see cref="ConvolutionSquashing.Linear"/>, the default) or
    /// f of them (<see cref="ConvolutionSquashing.Squashed"/>); the backward passes then go through f' there too.
    /// </summary>
    public ConvolutionSquashing Convolutions { get; init; }

    private bool SquashedConvolutions => Convolutions == ConvolutionSquashing.Squashed;

    public ReferenceLeNet(LeNetModel model) : this(model.Parameters, model.Squashing)
    {
        Output = model.Output;
        Convolutions = model.Convolutions;
    }

    public ReferenceLeNet(IReadOnlyList<float> parameters, Squashing squashing) : this(parameters.Select(v => (double)v).ToArray(), squashing) { }

    public ReferenceLeNet(double[] parameters, Squashing squashing)
    {
        p = parameters;
        Squashing = squashing;
        c1w = ParameterLayout.C1Weight.Offset; c1b = ParameterLayout.C1Bias.Offset;
        s2c = ParameterLayout.S2Coefficient.Offset; s2b = ParameterLayout.S2Bias.Offset;
        c3w = ParameterLayout.C3Weight.Offset; c3b = ParameterLayout.C3Bias.Offset;
        s4c = ParameterLayout.S4Coefficient.Offset; s4b = ParameterLayout.S4Bias.Offset;
        c5w = ParameterLayout.C5Weight.Offset; c5b = ParameterLayout.C5Bias.Offset;
        f6w = ParameterLayout.F6Weight.Offset; f6b = ParameterLayout.F6Bias.Offset;
        ow = ParameterLayout.OutputWeight.Offset; ob = ParameterLayout.OutputBias.Offset;
    }

    /// <summary>The parameters this reference uses (a copy of the model's values, in double).</summary>
    public double[] Parameters => p;

    // ---------------------------------------------------------------- squashing

    public static double Squash(double a, Squashing s) => s switch
    {
        Squashing.ScaledTanh => 1.7159 * Math.Tanh(2.0 * a / 3.0),
        Squashing.Sigmoid => 1.0 / (1.0 + Math.Exp(-a)),
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };

    /// <summary>df/da, computed from the weighted sum a (not from the output, unlike the kernels).</summary>
    public static double SquashDerivative(double a, Squashing s)
    {
        switch (s)
        {
            case Squashing.ScaledTanh:
                double t = Math.Tanh(2.0 * a / 3.0);
                return 1.7159 * (2.0 / 3.0) * (1 - t * t);
            case Squashing.Sigmoid:
                double y = 1.0 / (1.0 + Math.Exp(-a));
                return y * (1 - y);
            default:
                throw new ArgumentOutOfRangeException(nameof(s));
        }
    }

    // ---------------------------------------------------------------- input

    /// <summary>The paper's MNIST preparation: 28×28 bytes centred in 32×32, background −0.1, pixel v → −0.1 + 1.275·v/255.</summary>
    public static double[] PadMnist(ReadOnlySpan<byte> image28)
    {
        if (image28.Length != 784) throw new ArgumentException("expected 784 bytes");
        var field = new double[32 * 32];
        Array.Fill(field, -0.1);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                field[(y + 2) * 32 + x + 2] = -0.1 + 1.275 * image28[y * 28 + x] / 255.0;
        return field;
    }

    // ---------------------------------------------------------------- single layers (one image)

    /// <summary>C1: valid 5×5 convolution 1@32x32 → 6@28x28 plus bias (the weighted sums, before any squashing).</summary>
    public double[] C1Layer(double[] input)
    {
        var c1 = new double[6 * 28 * 28];
        for (int m = 0; m < 6; m++)
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    double a = p[c1b + m];
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++)
                            a += p[c1w + (m * K + ky) * K + kx] * input[(y + ky) * 32 + x + kx];
                    c1[(m * 28 + y) * 28 + x] = a;
                }
        return c1;
    }

    /// <summary>S2 / S4 weighted sums: coefficient·(sum of each 2×2 block) + bias, per map.</summary>
    public double[] SubsampleSums(double[] input, int maps, int inSize, bool second)
    {
        int c = second ? s4c : s2c, b = second ? s4b : s2b, outSize = inSize / 2;
        var a = new double[maps * outSize * outSize];
        for (int m = 0; m < maps; m++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    double sum = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            sum += input[(m * inSize + 2 * y + dy) * inSize + 2 * x + dx];
                    a[(m * outSize + y) * outSize + x] = p[c + m] * sum + p[b + m];
                }
        return a;
    }

    /// <summary>C3: 6@14x14 → 16@10x10, each output map summing only over its Table I inputs, plus bias (the weighted sums).</summary>
    public double[] C3Layer(double[] s2)
    {
        var c3 = new double[16 * 10 * 10];
        for (int o = 0; o < 16; o++)
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 10; x++)
                {
                    double a = p[c3b + o];
                    foreach (int i in C3Inputs[o])
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                                a += p[c3w + ((o * 6 + i) * K + ky) * K + kx] * s2[(i * 14 + y + ky) * 14 + x + kx];
                    c3[(o * 10 + y) * 10 + x] = a;
                }
        return c3;
    }

    /// <summary>C5 weighted sums: 16@5x5 → 120, every S4 map connected.</summary>
    public double[] C5Sums(double[] s4)
    {
        var a = new double[120];
        for (int o = 0; o < 120; o++)
        {
            double sum = p[c5b + o];
            for (int i = 0; i < 16; i++)
                for (int k = 0; k < K * K; k++)
                    sum += p[c5w + (o * 16 + i) * K * K + k] * s4[i * K * K + k];
            a[o] = sum;
        }
        return a;
    }

    /// <summary>Dense weighted sums b + W·x with W [outUnits][inUnits] at <paramref name="weight"/>.</summary>
    private double[] Dense(double[] x, int weight, int bias, int outUnits)
    {
        var a = new double[outUnits];
        for (int o = 0; o < outUnits; o++)
        {
            double sum = p[bias + o];
            for (int j = 0; j < x.Length; j++)
                sum += p[weight + o * x.Length + j] * x[j];
            a[o] = sum;
        }
        return a;
    }

    public double[] F6Sums(double[] c5) => Dense(c5, f6w, f6b, 84);
    public double[] OutputLogits(double[] f6) => Output == OutputLayer.Rbf ? NegativeDistances(f6) : Dense(f6, ow, ob, 10);

    /// <summary>−y_i = −Σ_j (x_j − c_ij)² for the ten RBF units.</summary>
    public double[] NegativeDistances(double[] f6)
    {
        var z = new double[10];
        for (int i = 0; i < 10; i++)
        {
            double y = 0;
            for (int j = 0; j < 84; j++)
            {
                double r = f6[j] - p[ow + i * 84 + j];
                y += r * r;
            }
            z[i] = -y;
        }
        return z;
    }

    /// <summary>The MAP criterion y_D + log(e^−j + Σ_i e^−y_i) from z = −y, with the largest exponent taken out.</summary>
    public static double Map(double[] z, int label, double j)
    {
        double m = Math.Max(-j, z.Max());
        double sum = Math.Exp(-j - m) + z.Sum(v => Math.Exp(v - m));
        return -z[label] + m + Math.Log(sum);
    }

    /// <summary>The loss of one image: cross-entropy, or MAP for an RBF output.</summary>
    public double ImageLoss(double[] logits, int label) =>
        Output == OutputLayer.Rbf ? Map(logits, label, MapJ) : CrossEntropy(logits, label);

    public double[] Squashed(double[] a) => a.Select(v => Squash(v, Squashing)).ToArray();

    public static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double total = e.Sum();
        return e.Select(v => v / total).ToArray();
    }

    /// <summary>Index of the largest value; the first of equal maxima.</summary>
    public static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    // ---------------------------------------------------------------- whole network

    public ReferenceActivations Forward(double[] input)
    {
        if (input.Length != 32 * 32) throw new ArgumentException("expected a 32×32 input field");
        var c1a = C1Layer(input);
        var c1 = SquashedConvolutions ? Squashed(c1a) : c1a;
        var s2a = SubsampleSums(c1, 6, 28, second: false);
        var s2 = Squashed(s2a);
        var c3a = C3Layer(s2);
        var c3 = SquashedConvolutions ? Squashed(c3a) : c3a;
        var s4a = SubsampleSums(c3, 16, 10, second: true);
        var s4 = Squashed(s4a);
        var c5a = C5Sums(s4);
        var c5 = Squashed(c5a);
        var f6a = F6Sums(c5);
        var f6 = Squashed(f6a);
        var logits = OutputLogits(f6);
        return new ReferenceActivations
        {
            Input = input, C1A = c1a, C1 = c1, S2A = s2a, S2 = s2, C3A = c3a, C3 = c3, S4A = s4a, S4 = s4,
            C5A = c5a, C5 = c5, F6A = f6a, F6 = f6, Logits = logits, Probabilities = Softmax(logits),
        };
    }

    /// <summary>Loss = mean over the batch of −log p[label].</summary>
    /// <summary>
    /// ∂loss/∂parameter i by central differences in double, the same network (squashing, output, j, convolutions) with
    /// parameter i moved by ±h: the tests' check of <see cref="Gradient"/> that shares none of its code.
    /// </summary>
    public double CentralDifference(int i, IReadOnlyList<double[]> inputs, IReadOnlyList<int> labels, double h)
    {
        double LossAt(double step)
        {
            var moved = (double[])p.Clone();
            moved[i] += step;
            return new ReferenceLeNet(moved, Squashing) { Output = Output, MapJ = MapJ, Convolutions = Convolutions }.Loss(inputs, labels);
        }
        return (LossAt(h) - LossAt(-h)) / (2 * h);
    }

    public double Loss(IReadOnlyList<double[]> inputs, IReadOnlyList<int> labels)
    {
        double total = 0;
        for (int n = 0; n < inputs.Count; n++)
            total += ImageLoss(Forward(inputs[n]).Logits, labels[n]);
        return total / inputs.Count;
    }

    /// <summary>−log softmax(logits)[label], computed as log-sum-exp − logit so it stays exact for confident outputs.</summary>
    public static double CrossEntropy(double[] logits, int label)
    {
        double max = logits.Max();
        double lse = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
        return lse - logits[label];
    }

    // ---------------------------------------------------------------- backward

    /// <summary>
    /// dLoss/dparameter for every entry of the flat buffer (same layout as <see cref="ParameterLayout"/>), for
    /// loss = mean over the batch of −log p[label] (or of MAP). C3 weights the table leaves out get exactly 0.
    /// </summary>
    public double[] Gradient(IReadOnlyList<double[]> inputs, IReadOnlyList<int> labels, out double loss) =>
        Backward(inputs, labels, secondOrder: false, out loss);

    /// <summary>
    /// The diagonal second-order estimate the engines compute for the step sizes, in the flat layout: the backward
    /// pass started from ∂²E/∂logit² ≈ p(1−p)/N instead of (p − onehot)/N, with each weight and squashing derivative
    /// squared on the way down and each weight's input squared (biases see 1). Every entry is ≥ 0; the C3 weights the
    /// table leaves out get exactly 0. An RBF output starts at F6 from the MAP criterion's curvature instead, as the
    /// engines do: d²E/dx_k² ≈ (2 + 4·Σ_i q_i(1 − q_i)·(x_k − c_ik)²)/N (y_D's exact 2, the log term by Gauss–Newton).
    /// <paramref name="loss"/> is the mean loss, as above.
    /// </summary>
    public double[] GaussNewtonDiagonal(IReadOnlyList<double[]> inputs, IReadOnlyList<int> labels, out double loss) =>
        Backward(inputs, labels, secondOrder: true, out loss);

    private double[] Backward(IReadOnlyList<double[]> inputs, IReadOnlyList<int> labels, bool secondOrder, out double loss)
    {
        if (inputs.Count == 0 || inputs.Count != labels.Count) throw new ArgumentException("one label per input, at least one input");
        var g = new double[p.Length];
        double scale = 1.0 / inputs.Count;
        loss = 0;
        var s = Squashing;
        // First order: the factors as they are. Second order: weights, derivatives and weight inputs squared.
        double Q(double v) => secondOrder ? v * v : v;
        double D(double a) { double d = SquashDerivative(a, s); return secondOrder ? d * d : d; }
        for (int n = 0; n < inputs.Count; n++)
        {
            var f = Forward(inputs[n]);
            int label = labels[n];
            loss += ImageLoss(f.Logits, label) * scale;

            double[] dF6;
            if (Output == OutputLayer.Rbf)
            {
                // MAP through the RBF units: dE/dy_i = [i = D] − q_i, q_i = e^−y_i / (e^−j + Σ e^−y); dy_i/dx_k = 2(x_k − c_ik).
                double m = Math.Max(-MapJ, f.Logits.Max());
                double total = Math.Exp(-MapJ - m) + f.Logits.Sum(v => Math.Exp(v - m));
                dF6 = new double[84];
                if (secondOrder)
                {
                    // d²E/dx_k² ≈ 2 + 4·Σ_i q_i(1 − q_i)·(x_k − c_ik)²: y_D's curvature is exactly 2, the log term's by Gauss–Newton.
                    for (int k = 0; k < 84; k++) dF6[k] = 2 * scale;
                    for (int i = 0; i < 10; i++)
                    {
                        double q = Math.Exp(f.Logits[i] - m) / total;
                        for (int k = 0; k < 84; k++)
                        {
                            double r = f.F6[k] - p[ow + i * 84 + k];
                            dF6[k] += 4 * q * (1 - q) * r * r * scale;
                        }
                    }
                }
                else
                    for (int i = 0; i < 10; i++)
                    {
                        double dY = ((i == label ? 1 : 0) - Math.Exp(f.Logits[i] - m) / total) * scale;
                        for (int k = 0; k < 84; k++) dF6[k] += dY * 2 * (f.F6[k] - p[ow + i * 84 + k]);
                    }
            }
            else
            {
                // OUTPUT: dE/dlogit = (p − onehot)/N; second order p(1 − p)/N.
                var dLogit = new double[10];
                for (int c = 0; c < 10; c++)
                    dLogit[c] = (secondOrder ? f.Probabilities[c] * (1 - f.Probabilities[c]) : f.Probabilities[c] - (c == label ? 1 : 0)) * scale;
                dF6 = DenseBackward(g, dLogit, f.F6, ow, ob, Q);
            }

            // F6: through f, then dense.
            var dF6A = new double[84];
            for (int j = 0; j < 84; j++) dF6A[j] = dF6[j] * D(f.F6A[j]);
            var dC5 = DenseBackward(g, dF6A, f.C5, f6w, f6b, Q);

            // C5: through f, then the 16@5x5 → 120 "convolution" (a dense layer over 400 inputs).
            var dC5A = new double[120];
            for (int o = 0; o < 120; o++) dC5A[o] = dC5[o] * D(f.C5A[o]);
            var dS4 = new double[400];
            for (int o = 0; o < 120; o++)
            {
                g[c5b + o] += dC5A[o];
                for (int k = 0; k < 400; k++)
                {
                    g[c5w + o * 400 + k] += dC5A[o] * Q(f.S4[k]);
                    dS4[k] += Q(p[c5w + o * 400 + k]) * dC5A[o];
                }
            }

            // S4, then C3 (through f when squashed).
            var dC3 = SubsampleBackward(g, dS4, f.S4A, f.C3, 16, 10, s4c, s4b, Q, D);
            if (SquashedConvolutions)
                for (int k = 0; k < dC3.Length; k++) dC3[k] *= D(f.C3A[k]);
            var dS2 = new double[6 * 14 * 14];
            for (int o = 0; o < 16; o++)
                for (int y = 0; y < 10; y++)
                    for (int x = 0; x < 10; x++)
                    {
                        double d = dC3[(o * 10 + y) * 10 + x];
                        g[c3b + o] += d;
                        foreach (int i in C3Inputs[o])
                            for (int ky = 0; ky < K; ky++)
                                for (int kx = 0; kx < K; kx++)
                                {
                                    int w = c3w + ((o * 6 + i) * K + ky) * K + kx;
                                    int at = (i * 14 + y + ky) * 14 + x + kx;
                                    g[w] += d * Q(f.S2[at]);
                                    dS2[at] += Q(p[w]) * d;
                                }
                    }

            // S2, then C1 (through f when squashed); the input needs no gradient.
            var dC1 = SubsampleBackward(g, dS2, f.S2A, f.C1, 6, 28, s2c, s2b, Q, D);
            if (SquashedConvolutions)
                for (int k = 0; k < dC1.Length; k++) dC1[k] *= D(f.C1A[k]);
            for (int m = 0; m < 6; m++)
                for (int y = 0; y < 28; y++)
                    for (int x = 0; x < 28; x++)
                    {
                        double d = dC1[(m * 28 + y) * 28 + x];
                        g[c1b + m] += d;
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++)
                                g[c1w + (m * K + ky) * K + kx] += d * Q(f.Input[(y + ky) * 32 + x + kx]);
                    }
        }
        return g;
    }

    /// <summary>Accumulates dW, db of a dense layer into g and returns dE/dx (<paramref name="q"/> squares in second order).</summary>
    private double[] DenseBackward(double[] g, double[] dA, double[] x, int weight, int bias, Func<double, double> q)
    {
        var dX = new double[x.Length];
        for (int o = 0; o < dA.Length; o++)
        {
            g[bias + o] += dA[o];
            for (int j = 0; j < x.Length; j++)
            {
                g[weight + o * x.Length + j] += dA[o] * q(x[j]);
                dX[j] += q(p[weight + o * x.Length + j]) * dA[o];
            }
        }
        return dX;
    }

    /// <summary>
    /// Backward through y = f(c·blocksum + b): accumulates dc, db into g and returns dE/d(input map), which is
    /// c·dE/da for each of the four inputs of a block (second order: c², the derivative and the block sum squared).
    /// </summary>
    private double[] SubsampleBackward(double[] g, double[] dY, double[] a, double[] input, int maps, int inSize, int coefficient, int bias,
        Func<double, double> q, Func<double, double> derivative)
    {
        int outSize = inSize / 2;
        var dInput = new double[maps * inSize * inSize];
        for (int m = 0; m < maps; m++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    int at = (m * outSize + y) * outSize + x;
                    double dA = dY[at] * derivative(a[at]);
                    double sum = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                        {
                            int i = (m * inSize + 2 * y + dy) * inSize + 2 * x + dx;
                            sum += input[i];
                            dInput[i] = q(p[coefficient + m]) * dA;
                        }
                    g[coefficient + m] += dA * q(sum);
                    g[bias + m] += dA;
                }
        return dInput;
    }
}

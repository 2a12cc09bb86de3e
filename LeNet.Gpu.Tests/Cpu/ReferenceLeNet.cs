using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// LeNet-5 in float64 with straight loops, image-major, written from the semantics of the device kernels and
/// nothing else: the oracle for the CPU engine. Shapes per image:
/// <code>
/// input [32][32] → C1 [6][28][28] (identity) → S2 [6][14][14] (f(c·Σ2×2 + b)) → C3 [16][10][10] (identity, Table I)
/// → S4 [16][5][5] (squashed) → C5 [120] (squashed) → F6 [84] (squashed) → logits [10] (identity) → softmax
/// </code>
/// Backward follows the device's second-order mode too: p(1−p)/count at the logits, squared weights,
/// coefficients, derivatives and inputs. Gradients are of the batch-mean loss, in the flat parameter layout.
/// </summary>
internal sealed class ReferenceLeNet
{
    public const double A = 1.7159, S = 2.0 / 3.0;

    public sealed class Image
    {
        public double[] Input = new double[32 * 32], C1 = new double[6 * 784], S2 = new double[6 * 196],
            C3 = new double[16 * 100], S4 = new double[400], C5 = new double[120], F6 = new double[84],
            Logits = new double[10], Probabilities = new double[10];
    }

    private readonly double[] p;
    private readonly Squashing squashing;

    public ReferenceLeNet(float[] parameters, Squashing squashing)
    {
        p = parameters.Select(v => (double)v).ToArray();
        this.squashing = squashing;
    }

    /// <summary>The same network with parameter <paramref name="index"/> moved by <paramref name="delta"/> (in double).</summary>
    public ReferenceLeNet(float[] parameters, Squashing squashing, int index, double delta) : this(parameters, squashing)
    {
        p[index] += delta;
    }

    private double F(double a) => squashing == Squashing.ScaledTanh ? A * Math.Tanh(S * a) : 1 / (1 + Math.Exp(-a));
    private double DF(double y) => squashing == Squashing.ScaledTanh ? S / A * (A * A - y * y) : y * (1 - y);
    private double W(ParameterSlice slice, int index) => p[slice.Offset + index];

    public Image[] Forward(float[] images, int count)
    {
        var result = new Image[count];
        for (int n = 0; n < count; n++)
        {
            var m = result[n] = new Image();
            for (int k = 0; k < 1024; k++) m.Input[k] = images[n * 1024 + k];
            Convolve(m.Input, 1, 32, m.C1, 6, P.C1Weight, P.C1Bias, (_, _) => true);
            Subsample(m.C1, 6, 14, P.S2Coefficient, P.S2Bias, m.S2);
            Convolve(m.S2, 6, 14, m.C3, 16, P.C3Weight, P.C3Bias, ConnectionTable.IsConnected);
            Subsample(m.C3, 16, 5, P.S4Coefficient, P.S4Bias, m.S4);
            Dense(m.S4, 400, P.C5Weight, P.C5Bias, 120, true, m.C5);
            Dense(m.C5, 120, P.F6Weight, P.F6Bias, 84, true, m.F6);
            Dense(m.F6, 84, P.OutputWeight, P.OutputBias, 10, false, m.Logits);
            double max = m.Logits.Max(), total = m.Logits.Sum(l => Math.Exp(l - max));
            for (int c = 0; c < 10; c++) m.Probabilities[c] = Math.Exp(m.Logits[c] - max) / total;
        }
        return result;
    }

    private void Convolve(double[] input, int inMaps, int inSize, double[] output, int outMaps,
        ParameterSlice weight, ParameterSlice bias, Func<int, int, bool> connected)
    {
        int outSize = inSize - 4;
        for (int o = 0; o < outMaps; o++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    double sum = W(bias, o);
                    for (int i = 0; i < inMaps; i++)
                    {
                        if (!connected(o, i)) continue;
                        for (int ky = 0; ky < 5; ky++)
                            for (int kx = 0; kx < 5; kx++)
                                sum += W(weight, ((o * inMaps + i) * 5 + ky) * 5 + kx) * input[(i * inSize + y + ky) * inSize + x + kx];
                    }
                    output[(o * outSize + y) * outSize + x] = sum;
                }
    }

    private static double Sum4(double[] input, int m, int size, int y, int x)
    {
        int inSize = 2 * size;
        int at = (m * inSize + 2 * y) * inSize + 2 * x;
        return input[at] + input[at + 1] + input[at + inSize] + input[at + inSize + 1];
    }

    private void Subsample(double[] input, int maps, int size, ParameterSlice coefficient, ParameterSlice bias, double[] output)
    {
        for (int m = 0; m < maps; m++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    output[(m * size + y) * size + x] = F(W(coefficient, m) * Sum4(input, m, size, y, x) + W(bias, m));
    }

    private void Dense(double[] input, int inUnits, ParameterSlice weight, ParameterSlice bias, int outUnits, bool squash, double[] output)
    {
        for (int o = 0; o < outUnits; o++)
        {
            double sum = W(bias, o);
            for (int j = 0; j < inUnits; j++) sum += W(weight, o * inUnits + j) * input[j];
            output[o] = squash ? F(sum) : sum;
        }
    }

    /// <summary>Gradients of the batch-mean loss (or the second-order diagonal); returns Σ −log p[label].</summary>
    public double Backward(Image[] images, int[] labels, bool secondOrder, double[] gradients)
    {
        Array.Clear(gradients);
        int count = images.Length;
        double loss = 0;
        double Q(double v) => secondOrder ? v * v : v;          // inputs of weight gradients
        double Wb(ParameterSlice s, int i) => Q(W(s, i));        // weights of input gradients
        double D(double y) => secondOrder ? DF(y) * DF(y) : DF(y);
        void Add(ParameterSlice s, int i, double v) => gradients[s.Offset + i] += v;

        for (int n = 0; n < count; n++)
        {
            var m = images[n];
            int label = labels[n];
            loss += -Math.Log(Math.Max(m.Probabilities[label], 1e-30));
            var dl = new double[10];
            for (int c = 0; c < 10; c++)
                dl[c] = secondOrder ? m.Probabilities[c] * (1 - m.Probabilities[c]) / count
                    : (m.Probabilities[c] - (c == label ? 1 : 0)) / count;

            var d6 = DenseBackward(dl, 10, m.F6, 84, P.OutputWeight, P.OutputBias, Q, Wb, Add);
            for (int j = 0; j < 84; j++) d6[j] *= D(m.F6[j]);
            var d5 = DenseBackward(d6, 84, m.C5, 120, P.F6Weight, P.F6Bias, Q, Wb, Add);
            for (int j = 0; j < 120; j++) d5[j] *= D(m.C5[j]);
            var d4 = DenseBackward(d5, 120, m.S4, 400, P.C5Weight, P.C5Bias, Q, Wb, Add);
            for (int j = 0; j < 400; j++) d4[j] *= D(m.S4[j]);
            var d3 = SubsampleBackward(d4, 16, 5, m.C3, P.S4Coefficient, P.S4Bias, Q, Wb, Add);
            var d2 = ConvolutionBackward(d3, 16, 10, m.S2, 6, P.C3Weight, P.C3Bias, ConnectionTable.IsConnected, Q, Wb, Add);
            for (int j = 0; j < d2.Length; j++) d2[j] *= D(m.S2[j]);
            var d1 = SubsampleBackward(d2, 6, 14, m.C1, P.S2Coefficient, P.S2Bias, Q, Wb, Add);
            ConvolutionBackward(d1, 6, 28, m.Input, 1, P.C1Weight, P.C1Bias, (_, _) => true, Q, Wb, Add);
        }
        return loss;
    }

    private static double[] DenseBackward(double[] dA, int outUnits, double[] input, int inUnits, ParameterSlice weight,
        ParameterSlice bias, Func<double, double> q, Func<ParameterSlice, int, double> wb, Action<ParameterSlice, int, double> add)
    {
        var dIn = new double[inUnits];
        for (int o = 0; o < outUnits; o++)
        {
            add(bias, o, dA[o]);
            for (int j = 0; j < inUnits; j++)
            {
                add(weight, o * inUnits + j, dA[o] * q(input[j]));
                dIn[j] += wb(weight, o * inUnits + j) * dA[o];
            }
        }
        return dIn;
    }

    private static double[] SubsampleBackward(double[] dA, int maps, int size, double[] input, ParameterSlice coefficient,
        ParameterSlice bias, Func<double, double> q, Func<ParameterSlice, int, double> wb, Action<ParameterSlice, int, double> add)
    {
        int inSize = 2 * size;
        var dIn = new double[maps * inSize * inSize];
        for (int m = 0; m < maps; m++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    double d = dA[(m * size + y) * size + x];
                    add(coefficient, m, d * q(Sum4(input, m, size, y, x)));
                    add(bias, m, d);
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            dIn[(m * inSize + 2 * y + dy) * inSize + 2 * x + dx] = wb(coefficient, m) * d;
                }
        return dIn;
    }

    private static double[] ConvolutionBackward(double[] dA, int outMaps, int outSize, double[] input, int inMaps,
        ParameterSlice weight, ParameterSlice bias, Func<int, int, bool> connected,
        Func<double, double> q, Func<ParameterSlice, int, double> wb, Action<ParameterSlice, int, double> add)
    {
        int inSize = outSize + 4;
        var dIn = new double[inMaps * inSize * inSize];
        for (int o = 0; o < outMaps; o++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                {
                    double d = dA[(o * outSize + y) * outSize + x];
                    add(bias, o, d);
                    for (int i = 0; i < inMaps; i++)
                    {
                        if (!connected(o, i)) continue;
                        for (int ky = 0; ky < 5; ky++)
                            for (int kx = 0; kx < 5; kx++)
                            {
                                int w = ((o * inMaps + i) * 5 + ky) * 5 + kx, at = (i * inSize + y + ky) * inSize + x + kx;
                                add(weight, w, d * q(input[at]));
                                dIn[at] += wb(weight, w) * d;
                            }
                    }
                }
        return dIn;
    }

    /// <summary>Batch-mean loss, for finite differences.</summary>
    public double MeanLoss(float[] images, int[] labels, int count)
    {
        var forward = Forward(images, count);
        double loss = 0;
        for (int n = 0; n < count; n++) loss += -Math.Log(forward[n].Probabilities[labels[n]]);
        return loss / count;
    }

    /// <summary>A layer's outputs for all images, image-major, as the engine's accessors give them.</summary>
    public static double[] Layer(Image[] images, LeNet.Gpu.Cpu.CpuLayer layer) => images.SelectMany(m => layer switch
    {
        LeNet.Gpu.Cpu.CpuLayer.Input => m.Input,
        LeNet.Gpu.Cpu.CpuLayer.C1 => m.C1,
        LeNet.Gpu.Cpu.CpuLayer.S2 => m.S2,
        LeNet.Gpu.Cpu.CpuLayer.C3 => m.C3,
        LeNet.Gpu.Cpu.CpuLayer.S4 => m.S4,
        LeNet.Gpu.Cpu.CpuLayer.C5 => m.C5,
        LeNet.Gpu.Cpu.CpuLayer.F6 => m.F6,
        _ => m.Logits,
    }).ToArray();
}

using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine's multiply-add kernels against scalar chains of <see cref="MathF.FusedMultiplyAdd"/> in the order
/// the engine promises (bias first; convolution taps by input map, kernel row, then kx ascending; dense inputs
/// ascending; bias sums pixel by pixel, row by row), compared bit for bit in every lane at every width. Register blocking may change, this order may not:
/// it is what keeps the engine's numbers the same from one version to the next.
/// </summary>
public unsafe class TileKernelOrderTests
{
    [Fact] public void Convolutions_and_dense_layers_keep_their_order_at_128_bits() => Check<Simd128, Vector128<float>>();
    [Fact] public void Convolutions_and_dense_layers_keep_their_order_at_256_bits() => Check<Simd256, Vector256<float>>();
    [Fact] public void Convolutions_and_dense_layers_keep_their_order_at_512_bits() => Check<Simd512, Vector512<float>>();

    private static void Check<TS, TV>() where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var random = new Random(5);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        // C1: 1@32x32 → 6@28x28.
        float[] input = Values(InputLength * L), c1Weights = Values(C1WeightLength), c1Bias = Values(C1Maps);
        var c1 = Convolution<TS, TV>(input, InputSize, C1Maps, 1, C1Size, c1Weights, c1Bias, ConvolutionTaps.AllConnected);
        AssertChains(c1, L, C1Maps, 1, InputSize, C1Size, input, c1Weights, c1Bias, ConvolutionTaps.AllConnected, "C1");

        // C3: 6@14x14 → 16@10x10, Table I.
        float[] s2 = Values(S2Length * L), c3Weights = Values(C3WeightLength), c3Bias = Values(C3Maps);
        var c3 = Convolution<TS, TV>(s2, S2Size, C3Maps, C1Maps, C3Size, c3Weights, c3Bias, ConvolutionTaps.TableI);
        AssertChains(c3, L, C3Maps, C1Maps, S2Size, C3Size, s2, c3Weights, c3Bias, ConvolutionTaps.TableI, "C3");

        // Dense 400 → 120 (C5, unsquashed), and 120 → 400 read by columns (C5's input gradient), and 84 → 10.
        foreach (var (inUnits, outUnits) in new[] { (400, 120), (84, 10), (120, 84) })
        {
            float[] x = Values(inUnits * L), w = Values(outUnits * inUnits), b = Values(outUnits), y = new float[outUnits * L];
            fixed (float* px = x, pw = w, pb = b, py = y)
                FullyConnectedTiles.Forward<TS, TV>(px, inUnits, pw, pb, outUnits, false, Squashing.ScaledTanh, py);
            for (int o = 0; o < outUnits; o++)
                for (int n = 0; n < L; n++)
                {
                    float sum = b[o];
                    for (int j = 0; j < inUnits; j++) sum = MathF.FusedMultiplyAdd(w[o * inUnits + j], x[j * L + n], sum);
                    Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(y[o * L + n]),
                        $"dense {inUnits}→{outUnits}: unit {o} lane {n}: {y[o * L + n]:R}, chain {sum:R}");
                }

            float[] dA = Values(outUnits * L), dIn = new float[inUnits * L];
            fixed (float* pd = dA, pw = w, pi = dIn)
                FullyConnectedTiles.InputGradient<TS, TV>(pd, outUnits, pw, inUnits, pi);
            for (int j = 0; j < inUnits; j++)
                for (int n = 0; n < L; n++)
                {
                    float sum = 0f;
                    for (int o = 0; o < outUnits; o++) sum = MathF.FusedMultiplyAdd(w[o * inUnits + j], dA[o * L + n], sum);
                    Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(dIn[j * L + n]),
                        $"input gradient {outUnits}→{inUnits}: unit {j} lane {n}: {dIn[j * L + n]:R}, chain {sum:R}");
                }

            // Two tiles at once (the batch backward's pairs): each tile's values those of the one-tile kernel.
            float[] dA1 = Values(outUnits * L), pair0 = new float[inUnits * L], pair1 = new float[inUnits * L], single1 = new float[inUnits * L];
            fixed (float* pd = dA, pd1 = dA1, pw = w, p0 = pair0, p1 = pair1, s1 = single1)
            {
                FullyConnectedTiles.InputGradientPair<TS, TV>(pd, pd1, outUnits, pw, inUnits, p0, p1);
                FullyConnectedTiles.InputGradient<TS, TV>(pd1, outUnits, pw, inUnits, s1);
            }
            Assert.True(Bits(pair0).SequenceEqual(Bits(dIn)), $"paired input gradient {outUnits}→{inUnits}, first tile");
            Assert.True(Bits(pair1).SequenceEqual(Bits(single1)), $"paired input gradient {outUnits}→{inUnits}, second tile");
        }

        // The convolutions' weight gradients with their bias sums: each bias lane the chain start + dOut pixels row by row.
        foreach (var (size, inSize) in new[] { (C1Size, InputSize), (C3Size, S2Size) })
        {
            float[] dOut = Values(size * size * L), x = Values(inSize * inSize * L), acc = Values(KernelSize * KernelSize * L), bias = Values(L);
            float[] start = (float[])bias.Clone(), weightsAlone = (float[])acc.Clone();
            fixed (float* pd = dOut, px = x, pa = acc, pb = bias, pw = weightsAlone)
            {
                ConvolutionTiles.WeightGradient<TS, TV>(pd, size, size, size, px, inSize, false, pa, pb);
                ConvolutionTiles.WeightGradient<TS, TV>(pd, size, size, size, px, inSize, false, pw);
            }
            Assert.True(Bits(acc).SequenceEqual(Bits(weightsAlone)), $"weight gradient {size}x{size}: the bias sum changed the weights'");
            for (int n = 0; n < L; n++)
            {
                float sum = start[n];
                for (int e = 0; e < size * size; e++) sum += dOut[e * L + n];
                Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(bias[n]),
                    $"bias sum {size}x{size} lane {n}: {bias[n]:R}, chain {sum:R}");
            }
        }
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static float[] Convolution<TS, TV>(float[] input, int inSize, int outMaps, int inMaps, int outSize, float[] weights, float[] bias,
        Func<int, int, bool> connected) where TS : struct, ISimd<TV> where TV : struct
    {
        var output = new float[outMaps * outSize * outSize * TS.Lanes];
        var rows = ConvolutionTaps.Rows(outMaps, inMaps, inSize, connected, TS.Lanes);
        fixed (float* x = input, y = output, w = weights, b = bias)
            ConvolutionTiles.ForwardRows<TS, TV>(x, inSize, y, outMaps, outSize, outSize, rows, w, b);
        return output;
    }

    private static void AssertChains(float[] output, int L, int outMaps, int inMaps, int inSize, int outSize, float[] input,
        float[] weights, float[] bias, Func<int, int, bool> connected, string layer)
    {
        for (int o = 0; o < outMaps; o++)
            for (int y = 0; y < outSize; y++)
                for (int x = 0; x < outSize; x++)
                    for (int n = 0; n < L; n++)
                    {
                        float sum = bias[o];
                        for (int i = 0; i < inMaps; i++)
                        {
                            if (!connected(o, i)) continue;
                            for (int ky = 0; ky < KernelSize; ky++)
                                for (int kx = 0; kx < KernelSize; kx++)
                                    sum = MathF.FusedMultiplyAdd(weights[((o * inMaps + i) * KernelSize + ky) * KernelSize + kx],
                                        input[((i * inSize + y + ky) * inSize + x + kx) * L + n], sum);
                        }
                        float got = output[((o * outSize + y) * outSize + x) * L + n];
                        Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(got),
                            $"{layer} map {o} ({y},{x}) lane {n}: {got:R}, chain {sum:R}");
                    }
    }
}

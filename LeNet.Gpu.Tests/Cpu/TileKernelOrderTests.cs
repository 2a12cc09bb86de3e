using System.Runtime.Intrinsics;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Model;
using Xunit;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>
/// The CPU engine's multiply-add kernels against scalar chains of <see cref="MathF.FusedMultiplyAdd"/> in the order
/// the engine promises (bias first; convolution taps by input map, kernel row, then kx ascending; dense inputs
/// ascending; bias sums pixel by pixel, row by row; the convolutions' weight gradients output by output, row by row;
/// the dense weight gradients image by image, tile after tile), compared bit for bit in every lane at every width. Register blocking may change, this order may not:
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
            // Each of the 25 sums: its start, then dOut[y,x]·in[y+ky, x+kx] row by row (however many sums run side by side).
            float[] accStart = Values(KernelSize * KernelSize * L);
            float[] weightSums = (float[])accStart.Clone();
            fixed (float* pd = dOut, px = x, pw = weightSums)
                ConvolutionTiles.WeightGradient<TS, TV>(pd, size, size, size, px, inSize, false, pw);
            for (int ky = 0; ky < KernelSize; ky++)
                for (int kx = 0; kx < KernelSize; kx++)
                    for (int n = 0; n < L; n++)
                    {
                        int k = (ky * KernelSize + kx) * L + n;
                        float sum = accStart[k];
                        for (int y = 0; y < size; y++)
                            for (int xx = 0; xx < size; xx++)
                                sum = MathF.FusedMultiplyAdd(dOut[(y * size + xx) * L + n], x[((y + ky) * inSize + xx + kx) * L + n], sum);
                        Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(weightSums[k]),
                            $"weight gradient {size}x{size} tap ({ky},{kx}) lane {n}: {weightSums[k]:R}, chain {sum:R}");
                    }
            for (int n = 0; n < L; n++)
            {
                float sum = start[n];
                for (int e = 0; e < size * size; e++) sum += dOut[e * L + n];
                Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(bias[n]),
                    $"bias sum {size}x{size} lane {n}: {bias[n]:R}, chain {sum:R}");
            }
        }
    }

    /// <summary>
    /// The dense weight gradient G[o,j] over three tiles: from G (accumulating) or from 0, then dA_t[o,n]·xT[t·L+n, j]
    /// image by image, tile after tile, at every register blocking (J = 400 and 96 leave blocks and single vectors).
    /// </summary>
    [Fact] public void Dense_weight_gradients_keep_their_order() { DenseWeightGradient<Simd128, Vector128<float>>(); DenseWeightGradient<Simd256, Vector256<float>>(); DenseWeightGradient<Simd512, Vector512<float>>(); }

    private static void DenseWeightGradient<TS, TV>() where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        var random = new Random(7);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        const int Tiles = 3, Rows = 12, Stride = 20 * 16; // dA's tiles Stride floats apart, more than Rows·L
        foreach (int J in new[] { 400, 96 })
            foreach (bool accumulate in new[] { true, false })
            {
                float[] dA = Values(Tiles * Stride), xT = Values(Tiles * L * J), g = Values(Rows * J), start = (float[])g.Clone();
                fixed (float* pd = dA, px = xT, pg = g)
                    FullyConnectedTiles.WeightGradient<TS, TV>(pd, Stride, Tiles, Rows, px, J, pg, accumulate);
                for (int o = 0; o < Rows; o++)
                    for (int j = 0; j < J; j++)
                    {
                        float sum = accumulate ? start[o * J + j] : 0f;
                        for (int t = 0; t < Tiles; t++)
                            for (int n = 0; n < L; n++)
                                sum = MathF.FusedMultiplyAdd(dA[t * Stride + o * L + n], xT[(t * L + n) * J + j], sum);
                        Assert.True(BitConverter.SingleToInt32Bits(sum) == BitConverter.SingleToInt32Bits(g[o * J + j]),
                            $"{L} lanes, J {J}, accumulate {accumulate}: G[{o},{j}] {g[o * J + j]:R}, chain {sum:R}");
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

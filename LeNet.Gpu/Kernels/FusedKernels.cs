using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The inference forward pass in three explicitly grouped kernels; each group takes a tile of consecutive images,
/// stages the tile and the layer's parameters in shared memory, and writes only what the next kernel reads:
/// <code>
/// C1S2        images [n][32·32] floats (or [n][28·28] bytes)  →  S2 [n][6][14][14]       C1 never leaves the chip
/// C3S4        S2 [n][6][14][14]                               →  S4 [n][16][5][5]        C3 never leaves the chip
/// C5F6Output  S4 [n][16·5·5]                                  →  probabilities [n][10], predictions [n]
/// </code>
/// C1S2 and C3S4 leave C1 and C3 linear; <c>C1S2SquashedFrom…</c> and <c>C3S4Squashed</c> are the same kernels for
/// models whose C1 and C3 squash their outputs (<see cref="Model.ConvolutionSquashing"/>), entry points of their own
/// over one body each, so the choice costs the linear ones nothing.
/// Every tensor here is <b>image-major</b> (unlike the per-layer kernels' batch-innermost layout): a tile of
/// consecutive images is one contiguous block, so a group loads it with consecutive threads reading consecutive
/// addresses (coalesced) whatever the tile size, and the host's row-major images need no transpose kernel.
/// Parameters are the slices of <see cref="Model.ParameterLayout"/>; the C3 connection mask is consulted before any
/// C3 weight is read, so masked entries have no effect whatever they hold.
/// Arithmetic follows the per-layer kernels term by term (bias first, then inputs in the same order; the 2×2 sum
/// as top-left + top-right + bottom-left + bottom-right), so the two paths differ only where a backend contracts
/// or reorders differently. Group sizes are free (every loop strides by <c>Group.DimX</c>); tiles are constants
/// because shared memory is sized at compile time. kernels.md explains the choices and their costs.
/// </summary>
public static class FusedKernels
{
    public const int InputFloats = InputLength, MnistBytes = InputField.MnistLength;
    public const int S2Floats = S2Length, S4Floats = S4Length;
    private const int S2Pixels = S2Size * S2Size, S4Pixels = S4Size * S4Size;

    /// <summary>Images per group and preferred threads per group (on a GPU) of <see cref="C1S2FromFloats"/> / <see cref="C1S2FromBytes"/>.</summary>
    public const int C1S2Tile = 8, C1S2Group = 256;

    /// <summary>Images per group and preferred threads per group of <see cref="C3S4"/>: 8 × 25 S4 positions = 200 items, one pass of 7 warps.</summary>
    public const int C3S4Tile = 8, C3S4Group = 224;

    /// <summary>Images per group and preferred threads per group of <see cref="C5F6Output"/> (C5 has 30 unit quads × 4 image quads = 120 items).</summary>
    public const int DenseTile = 16, DenseGroup = 128;

    // C1S2's shared parameter block: c1.weight [6][25], c1.bias [6], s2.coefficient [6], s2.bias [6].
    private const int C1Bias = C1WeightLength, S2Coefficient = C1Bias + C1Maps, S2Bias = S2Coefficient + S2Maps,
        C1S2Parameters = S2Bias + S2Maps;

    // C3S4's: c3.weight [16][6][25] (dense, masked entries never read), c3.bias, s4.coefficient, s4.bias [16] each.
    private const int C3Bias = C3WeightLength, S4Coefficient = C3Bias + C3Maps, S4Bias = S4Coefficient + S4Maps,
        C3S4Parameters = S4Bias + S4Maps, C3Mask = C3MaskLength;

    // C5F6Output's shared rows. Odd strides (one float past the row) put the rows of neighbouring images in different banks.
    private const int S4Stride = S4Length + 1, C5Stride = C5Units + 1, F6Stride = F6Units + 1, LogitStride = Classes;
    private const int Chunk = 32, ChunkStride = C5Units + 1, ImageQuads = DenseTile / 4;

    /// <summary>
    /// C1 (identity) and S2 (squashed) for a tile of float images [n][32·32], row-major, in the model's input scale.
    /// Grid: ⌈count / <see cref="C1S2Tile"/>⌉ groups. Output S2 [n][6][14][14].
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2FromFloats(int count, int activation, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromFloatsWith(count, activation, Squash.Identity, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    /// <summary>
    /// <see cref="C1S2FromFloats"/> for a model whose C1 is squashed (<see cref="Model.ConvolutionSquashing.Squashed"/>):
    /// each C1 output goes through the squashing function before S2 sums it. A kernel of its own, so that the linear
    /// one keeps its registers (a runtime switch cost it 9 of 56 on sm_90, and a quarter of its occupancy).
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2SquashedFromFloats(int count, int activation, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromFloatsWith(count, activation, activation, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    private static void C1S2FromFloatsWith(int count, int activation, int convolution, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2)
    {
        var tile = SharedMemory.Allocate<float>(C1S2Tile * InputFloats);
        var p = SharedMemory.Allocate<float>(C1S2Parameters);
        int first = Grid.IdxX * C1S2Tile, valid = Valid(count, first, C1S2Tile);
        for (int e = Group.IdxX; e < valid * InputFloats; e += Group.DimX)
            tile[e] = images[first * InputFloats + e];
        StageC1S2Parameters(p, c1Weight, c1Bias, s2Coefficient, s2Bias);
        Group.Barrier();
        C1S2Compute(tile, p, first, valid, activation, convolution, s2);
    }

    /// <summary>
    /// <see cref="C1S2FromFloats"/> for raw 28×28 bytes [n][784] (MNIST layout), prepared while staging by the input
    /// rule every engine uses (<see cref="InputField.Mnist"/>): a 2-pixel border of background −0.1, ink v → −0.1 + 1.275·v/255.
    /// The device reads 784 bytes per image instead of 4 KB of floats.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2FromBytes(int count, int activation, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromBytesWith(count, activation, Squash.Identity, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    /// <summary><see cref="C1S2FromBytes"/> with C1 squashed (see <see cref="C1S2SquashedFromFloats"/>).</summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2SquashedFromBytes(int count, int activation, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromBytesWith(count, activation, activation, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    private static void C1S2FromBytesWith(int count, int activation, int convolution, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2)
    {
        var bytes = new DeviceInkBytes(images);
        var tile = SharedMemory.Allocate<float>(C1S2Tile * InputFloats);
        var p = SharedMemory.Allocate<float>(C1S2Parameters);
        int first = Grid.IdxX * C1S2Tile, valid = Valid(count, first, C1S2Tile);
        for (int e = Group.IdxX; e < valid * InputFloats; e += Group.DimX)
        {
            int n = e / InputFloats, pixel = e - n * InputFloats;
            float v = InputField.Mnist(bytes, (first + n) * MnistBytes, pixel % InputField.Size, pixel / InputField.Size);
            tile[e] = v;
        }
        StageC1S2Parameters(p, c1Weight, c1Bias, s2Coefficient, s2Bias);
        Group.Barrier();
        C1S2Compute(tile, p, first, valid, activation, convolution, s2);
    }

    private static void StageC1S2Parameters(ArrayView<float> p,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias)
    {
        for (int e = Group.IdxX; e < C1S2Parameters; e += Group.DimX)
        {
            if (e < C1Bias) p[e] = c1Weight[e];
            else if (e < S2Coefficient) p[e] = c1Bias[e - C1Bias];
            else if (e < S2Bias) p[e] = s2Coefficient[e - S2Coefficient];
            else p[e] = s2Bias[e - S2Bias];
        }
    }

    /// <summary>
    /// One thread per (image, S2 position): the 2×2 block of C1 outputs under that position for all 6 maps
    /// (24 accumulators). Each 6-wide pair of input rows is read once from shared memory and used by all 6 maps;
    /// each weight row is a broadcast (every thread of the group reads the same address). <paramref name="convolution"/>
    /// is what each C1 output goes through before the 2×2 sum: identity, or the squashing function (a constant in each
    /// entry point, folded away by the compiler).
    /// </summary>
    private static void C1S2Compute(ArrayView<float> tile, ArrayView<float> p, int first, int valid, int activation, int convolution,
        ArrayView<float> s2)
    {
        for (int item = Group.IdxX; item < valid * S2Pixels; item += Group.DimX)
        {
            int n = item / S2Pixels, position = item - n * S2Pixels, y = position / S2Size, x = position - y * S2Size;
            // One named accumulator per C1 map (C1Maps = 6), written out so they stay in registers; the numbers are map indices.
            Quad q0 = new(p[C1Bias]), q1 = new(p[C1Bias + 1]), q2 = new(p[C1Bias + 2]);
            Quad q3 = new(p[C1Bias + 3]), q4 = new(p[C1Bias + 4]), q5 = new(p[C1Bias + 5]);
            for (int ky = 0; ky < KernelSize; ky++)
            {
                int row = n * InputFloats + (2 * y + ky) * InputSize + 2 * x, taps = ky * KernelSize;
                var top = Row6.Load(tile, row);
                var bottom = Row6.Load(tile, row + InputSize);
                q0 = q0.Add(Taps5.Load(p, taps), top, bottom);
                q1 = q1.Add(Taps5.Load(p, KernelArea + taps), top, bottom);
                q2 = q2.Add(Taps5.Load(p, 2 * KernelArea + taps), top, bottom);
                q3 = q3.Add(Taps5.Load(p, 3 * KernelArea + taps), top, bottom);
                q4 = q4.Add(Taps5.Load(p, 4 * KernelArea + taps), top, bottom);
                q5 = q5.Add(Taps5.Load(p, 5 * KernelArea + taps), top, bottom);
            }
            // Consecutive threads take consecutive positions of one map: the writes are coalesced.
            int at = (first + n) * S2Floats + position;
            s2[at] = Squash.Apply(p[S2Coefficient] * q0.Sum(convolution) + p[S2Bias], activation);
            s2[at + 1 * S2Pixels] = Squash.Apply(p[S2Coefficient + 1] * q1.Sum(convolution) + p[S2Bias + 1], activation);
            s2[at + 2 * S2Pixels] = Squash.Apply(p[S2Coefficient + 2] * q2.Sum(convolution) + p[S2Bias + 2], activation);
            s2[at + 3 * S2Pixels] = Squash.Apply(p[S2Coefficient + 3] * q3.Sum(convolution) + p[S2Bias + 3], activation);
            s2[at + 4 * S2Pixels] = Squash.Apply(p[S2Coefficient + 4] * q4.Sum(convolution) + p[S2Bias + 4], activation);
            s2[at + 5 * S2Pixels] = Squash.Apply(p[S2Coefficient + 5] * q5.Sum(convolution) + p[S2Bias + 5], activation);
        }
    }

    /// <summary>
    /// C3 (identity, Table I mask) and S4 (squashed) for a tile of S2 maps [n][6][14][14] → S4 [n][16][5][5].
    /// One thread per (image, S4 position) computes that position for all 16 maps (64 accumulators): the loop over
    /// input maps and the mask test are the same in every thread, so the mask never splits a warp.
    /// Grid: ⌈count / <see cref="C3S4Tile"/>⌉ groups.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C3S4Group)]
    public static void C3S4(int count, int activation, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4) =>
        C3S4With(count, activation, Squash.Identity, s2, c3Weight, c3Bias, c3Mask, s4Coefficient, s4Bias, s4);

    /// <summary><see cref="C3S4"/> with C3 squashed (see <see cref="C1S2SquashedFromFloats"/>).</summary>
    [ExplicitlyGroupedKernel(GroupSize = C3S4Group)]
    public static void C3S4Squashed(int count, int activation, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4) =>
        C3S4With(count, activation, activation, s2, c3Weight, c3Bias, c3Mask, s4Coefficient, s4Bias, s4);

    private static void C3S4With(int count, int activation, int convolution, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4)
    {
        var tile = SharedMemory.Allocate<float>(C3S4Tile * S2Floats);
        var p = SharedMemory.Allocate<float>(C3S4Parameters);
        var mask = SharedMemory.Allocate<int>(C3Mask);
        int first = Grid.IdxX * C3S4Tile, valid = Valid(count, first, C3S4Tile);
        for (int e = Group.IdxX; e < valid * S2Floats; e += Group.DimX)
            tile[e] = s2[first * S2Floats + e];
        for (int e = Group.IdxX; e < C3S4Parameters; e += Group.DimX)
        {
            if (e < C3Bias) p[e] = c3Weight[e];
            else if (e < S4Coefficient) p[e] = c3Bias[e - C3Bias];
            else if (e < S4Bias) p[e] = s4Coefficient[e - S4Coefficient];
            else p[e] = s4Bias[e - S4Bias];
        }
        for (int e = Group.IdxX; e < C3Mask; e += Group.DimX)
            mask[e] = c3Mask[e];
        Group.Barrier();

        for (int item = Group.IdxX; item < valid * S4Pixels; item += Group.DimX)
        {
            int n = item / S4Pixels, position = item - n * S4Pixels, y = position / S4Size, x = position - y * S4Size;
            // One named accumulator per C3 map (C3Maps = 16), written out so they stay in registers; the numbers are map indices.
            Quad q0 = new(p[C3Bias]), q1 = new(p[C3Bias + 1]), q2 = new(p[C3Bias + 2]), q3 = new(p[C3Bias + 3]);
            Quad q4 = new(p[C3Bias + 4]), q5 = new(p[C3Bias + 5]), q6 = new(p[C3Bias + 6]), q7 = new(p[C3Bias + 7]);
            Quad q8 = new(p[C3Bias + 8]), q9 = new(p[C3Bias + 9]), q10 = new(p[C3Bias + 10]), q11 = new(p[C3Bias + 11]);
            Quad q12 = new(p[C3Bias + 12]), q13 = new(p[C3Bias + 13]), q14 = new(p[C3Bias + 14]), q15 = new(p[C3Bias + 15]);
            for (int i = 0; i < S2Maps; i++)
                for (int ky = 0; ky < KernelSize; ky++)
                {
                    int row = ((n * S2Maps + i) * S2Size + 2 * y + ky) * S2Size + 2 * x;
                    var top = Row6.Load(tile, row);
                    var bottom = Row6.Load(tile, row + S2Size);
                    q0 = C3Taps(q0, 0, i, ky, p, mask, top, bottom);
                    q1 = C3Taps(q1, 1, i, ky, p, mask, top, bottom);
                    q2 = C3Taps(q2, 2, i, ky, p, mask, top, bottom);
                    q3 = C3Taps(q3, 3, i, ky, p, mask, top, bottom);
                    q4 = C3Taps(q4, 4, i, ky, p, mask, top, bottom);
                    q5 = C3Taps(q5, 5, i, ky, p, mask, top, bottom);
                    q6 = C3Taps(q6, 6, i, ky, p, mask, top, bottom);
                    q7 = C3Taps(q7, 7, i, ky, p, mask, top, bottom);
                    q8 = C3Taps(q8, 8, i, ky, p, mask, top, bottom);
                    q9 = C3Taps(q9, 9, i, ky, p, mask, top, bottom);
                    q10 = C3Taps(q10, 10, i, ky, p, mask, top, bottom);
                    q11 = C3Taps(q11, 11, i, ky, p, mask, top, bottom);
                    q12 = C3Taps(q12, 12, i, ky, p, mask, top, bottom);
                    q13 = C3Taps(q13, 13, i, ky, p, mask, top, bottom);
                    q14 = C3Taps(q14, 14, i, ky, p, mask, top, bottom);
                    q15 = C3Taps(q15, 15, i, ky, p, mask, top, bottom);
                }
            int at = (first + n) * S4Floats + position;
            S4Out(s4, at, 0, q0, p, activation, convolution); S4Out(s4, at, 1, q1, p, activation, convolution);
            S4Out(s4, at, 2, q2, p, activation, convolution); S4Out(s4, at, 3, q3, p, activation, convolution);
            S4Out(s4, at, 4, q4, p, activation, convolution); S4Out(s4, at, 5, q5, p, activation, convolution);
            S4Out(s4, at, 6, q6, p, activation, convolution); S4Out(s4, at, 7, q7, p, activation, convolution);
            S4Out(s4, at, 8, q8, p, activation, convolution); S4Out(s4, at, 9, q9, p, activation, convolution);
            S4Out(s4, at, 10, q10, p, activation, convolution); S4Out(s4, at, 11, q11, p, activation, convolution);
            S4Out(s4, at, 12, q12, p, activation, convolution); S4Out(s4, at, 13, q13, p, activation, convolution);
            S4Out(s4, at, 14, q14, p, activation, convolution); S4Out(s4, at, 15, q15, p, activation, convolution);
        }
    }

    /// <summary>One kernel row of C3 map <paramref name="o"/> over S2 map <paramref name="i"/>, if Table I connects them.</summary>
    private static Quad C3Taps(Quad q, int o, int i, int ky, ArrayView<float> p, ArrayView<int> mask, Row6 top, Row6 bottom)
    {
        if (mask[o * S2Maps + i] == 0) return q;
        return q.Add(Taps5.Load(p, ((o * S2Maps + i) * KernelSize + ky) * KernelSize), top, bottom);
    }

    private static void S4Out(ArrayView<float> s4, int at, int o, Quad q, ArrayView<float> p, int activation, int convolution) =>
        s4[at + o * S4Pixels] = Squash.Apply(p[S4Coefficient + o] * q.Sum(convolution) + p[S4Bias + o], activation);

    /// <summary>
    /// C5 (squashed), F6 (squashed), OUTPUT (identity) and the softmax for a tile of S4 [n][400] →
    /// probabilities [n][10] and predictions [n] (argmax, the first of equal maxima). The three dense layers are
    /// small matrix products of the tile: weights pass through shared memory in chunks of 32 inputs (transposed,
    /// so a thread's 4 units are adjacent), and each thread accumulates a 4 units × 4 images block in registers.
    /// Activations stay in shared memory between the layers. Grid: ⌈count / <see cref="DenseTile"/>⌉ groups.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = DenseGroup)]
    public static void C5F6Output(int count, int activation, ArrayView<float> s4,
        ArrayView<float> c5Weight, ArrayView<float> c5Bias, ArrayView<float> f6Weight, ArrayView<float> f6Bias,
        ArrayView<float> outputWeight, ArrayView<float> outputBias,
        ArrayView<float> probabilities, ArrayView<int> predictions)
    {
        var x = SharedMemory.Allocate<float>(DenseTile * S4Stride);   // S4 rows, then F6 rows
        var y = SharedMemory.Allocate<float>(DenseTile * C5Stride);   // C5 rows, then logits
        var w = SharedMemory.Allocate<float>(Chunk * ChunkStride);    // one chunk of weights, [input][unit]
        int first = Grid.IdxX * DenseTile, valid = Valid(count, first, DenseTile);
        for (int e = Group.IdxX; e < DenseTile * S4Floats; e += Group.DimX)
        {
            int n = e / S4Floats, k = e - n * S4Floats;
            // Rows past the batch hold zeros: they are computed (a 4-image block may straddle the end) but never written.
            float v = 0f;
            if (n < valid) v = s4[first * S4Floats + e];
            x[n * S4Stride + k] = v;
        }
        // Dense's first barrier (after staging its first weight chunk) also publishes these rows.
        Dense(S4Floats, C5Units, activation, x, S4Stride, c5Weight, c5Bias, w, y, C5Stride);
        Dense(C5Units, F6Units, activation, y, C5Stride, f6Weight, f6Bias, w, x, F6Stride);
        Dense(F6Units, Classes, 0, x, F6Stride, outputWeight, outputBias, w, y, LogitStride);
        Group.Barrier();

        for (int n = Group.IdxX; n < valid; n += Group.DimX)
        {
            int row = n * LogitStride;
            float max = y[row];
            int best = 0;
            for (int c = 1; c < Classes; c++)
            {
                float v = y[row + c];
                if (v > max) { max = v; best = c; }
            }
            float total = 0f;
            for (int c = 0; c < Classes; c++)
            {
                float e = XMath.Exp(y[row + c] - max);
                y[row + c] = e;
                total += e;
            }
            float inverse = 1f / total;
            for (int c = 0; c < Classes; c++)
                probabilities[(first + n) * Classes + c] = y[row + c] * inverse;
            predictions[first + n] = best;
        }
    }

    /// <summary>
    /// out[n, u] = f(bias[u] + Σ_k weight[u, k] · in[n, k]) for the tile's <see cref="DenseTile"/> rows, in and out
    /// in shared memory. Item = (unit quad, image quad); a group of G threads takes the items in passes of G. Every
    /// thread runs every pass and chunk (the loop bounds are the same for the whole group), so the barriers match.
    /// </summary>
    private static void Dense(int inputs, int units, int activation, ArrayView<float> input, int inputStride,
        ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> w, ArrayView<float> output, int outputStride)
    {
        int quads = (units + 3) / 4, items = quads * ImageQuads;
        for (int pass = 0; pass < items; pass += Group.DimX)
        {
            int item = pass + Group.IdxX;
            bool active = item < items;
            int u = item / ImageQuads * 4, n = item % ImageQuads * 4;
            float b0 = Bias(bias, u, units), b1 = Bias(bias, u + 1, units), b2 = Bias(bias, u + 2, units), b3 = Bias(bias, u + 3, units);
            float a00 = b0, a01 = b0, a02 = b0, a03 = b0, a10 = b1, a11 = b1, a12 = b1, a13 = b1;
            float a20 = b2, a21 = b2, a22 = b2, a23 = b2, a30 = b3, a31 = b3, a32 = b3, a33 = b3;
            for (int k0 = 0; k0 < inputs; k0 += Chunk)
            {
                int chunk = inputs - k0 < Chunk ? inputs - k0 : Chunk;
                // Consecutive threads read consecutive inputs of one unit's weight row (coalesced); units past the
                // layer's last get zeros so a partial quad computes harmlessly.
                for (int e = Group.IdxX; e < quads * 4 * chunk; e += Group.DimX)
                {
                    int unit = e / chunk, kk = e - unit * chunk;
                    float v = 0f;
                    if (unit < units) v = weight[unit * inputs + k0 + kk];
                    w[kk * ChunkStride + unit] = v;
                }
                Group.Barrier();
                if (active)
                {
                    for (int kk = 0; kk < chunk; kk++)
                    {
                        int k = k0 + kk, wa = kk * ChunkStride + u;
                        float x0 = input[n * inputStride + k], x1 = input[(n + 1) * inputStride + k];
                        float x2 = input[(n + 2) * inputStride + k], x3 = input[(n + 3) * inputStride + k];
                        float w0 = w[wa], w1 = w[wa + 1], w2 = w[wa + 2], w3 = w[wa + 3];
                        a00 += w0 * x0; a01 += w0 * x1; a02 += w0 * x2; a03 += w0 * x3;
                        a10 += w1 * x0; a11 += w1 * x1; a12 += w1 * x2; a13 += w1 * x3;
                        a20 += w2 * x0; a21 += w2 * x1; a22 += w2 * x2; a23 += w2 * x3;
                        a30 += w3 * x0; a31 += w3 * x1; a32 += w3 * x2; a33 += w3 * x3;
                    }
                }
                Group.Barrier();
            }
            if (active)
            {
                Store(output, outputStride, n, u, units, activation, a00, a01, a02, a03);
                Store(output, outputStride, n, u + 1, units, activation, a10, a11, a12, a13);
                Store(output, outputStride, n, u + 2, units, activation, a20, a21, a22, a23);
                Store(output, outputStride, n, u + 3, units, activation, a30, a31, a32, a33);
            }
        }
    }

    private static float Bias(ArrayView<float> bias, int unit, int units)
    {
        float b = 0f;
        if (unit < units) b = bias[unit];
        return b;
    }

    private static void Store(ArrayView<float> output, int stride, int n, int unit, int units, int activation,
        float a0, float a1, float a2, float a3)
    {
        if (unit >= units) return;
        output[n * stride + unit] = Squash.Apply(a0, activation);
        output[(n + 1) * stride + unit] = Squash.Apply(a1, activation);
        output[(n + 2) * stride + unit] = Squash.Apply(a2, activation);
        output[(n + 3) * stride + unit] = Squash.Apply(a3, activation);
    }

    /// <summary>Images of the tile starting at <paramref name="first"/> that are part of the batch.</summary>
    private static int Valid(int count, int first, int tile) => count - first < tile ? count - first : tile;

    /// <summary>Six neighbouring inputs of one row: what the 5 taps of a kernel row see for two adjacent outputs.</summary>
    private readonly struct Row6(float x0, float x1, float x2, float x3, float x4, float x5)
    {
        public readonly float X0 = x0, X1 = x1, X2 = x2, X3 = x3, X4 = x4, X5 = x5;

        public static Row6 Load(ArrayView<float> view, int at) =>
            new(view[at], view[at + 1], view[at + 2], view[at + 3], view[at + 4], view[at + 5]);
    }

    /// <summary>One row of a 5×5 kernel.</summary>
    private readonly struct Taps5(float w0, float w1, float w2, float w3, float w4)
    {
        public readonly float W0 = w0, W1 = w1, W2 = w2, W3 = w3, W4 = w4;

        public static Taps5 Load(ArrayView<float> view, int at) =>
            new(view[at], view[at + 1], view[at + 2], view[at + 3], view[at + 4]);
    }

    /// <summary>
    /// The weighted sums of a 2×2 block of convolution outputs (the block one subsampling unit covers):
    /// A top-left, B top-right, C bottom-left, D bottom-right. Held in registers, never in memory.
    /// </summary>
    private readonly struct Quad(float a, float b, float c, float d)
    {
        public readonly float A = a, B = b, C = c, D = d;

        public Quad(float bias) : this(bias, bias, bias, bias) { }

        /// <summary>
        /// The 2×2 sum of the convolution's outputs, each through <paramref name="convolution"/> (identity, or the
        /// squashing function), in the per-layer subsampling kernel's order.
        /// </summary>
        public float Sum(int convolution) => convolution == Squash.Identity
            ? A + B + C + D
            : Squash.Apply(A, convolution) + Squash.Apply(B, convolution) + Squash.Apply(C, convolution) + Squash.Apply(D, convolution);

        /// <summary>
        /// Adds one kernel row: <paramref name="top"/> is the input row under the block's upper outputs,
        /// <paramref name="bottom"/> the row under its lower ones; taps in kx order, one term at a time.
        /// </summary>
        public Quad Add(Taps5 w, Row6 top, Row6 bottom)
        {
            float a = A, b = B, c = C, d = D;
            a += w.W0 * top.X0; a += w.W1 * top.X1; a += w.W2 * top.X2; a += w.W3 * top.X3; a += w.W4 * top.X4;
            b += w.W0 * top.X1; b += w.W1 * top.X2; b += w.W2 * top.X3; b += w.W3 * top.X4; b += w.W4 * top.X5;
            c += w.W0 * bottom.X0; c += w.W1 * bottom.X1; c += w.W2 * bottom.X2; c += w.W3 * bottom.X3; c += w.W4 * bottom.X4;
            d += w.W0 * bottom.X1; d += w.W1 * bottom.X2; d += w.W2 * bottom.X3; d += w.W3 * bottom.X4; d += w.W4 * bottom.X5;
            return new Quad(a, b, c, d);
        }
    }
}

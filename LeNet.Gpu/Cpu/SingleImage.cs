using System.Runtime.Intrinsics;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The forward pass of one image, vectorised <b>within</b> the image: what a tile does for L images at once costs
/// the same for one, so a batch of 1 (or the few images left over after the full tiles) goes here instead.
/// The activations lie where <see cref="ActivationLayout"/> puts one image's, each layer image-major, the accessors' own:
/// <code>
/// input [32][32]  C1 [6][28·28]  S2 [6][14·14]  C3 [16][10·10]  S4 [16·5·5]  C5 [120]  F6 [84]  logits [10]
/// </code>
/// The convolutions run over the flattened output map: output p = y·W + x of map o is Σ_taps w·plane[kx][p + ky·W],
/// where plane[kx] is the input shifted left by kx and cut to the output width W, so every tap is one contiguous
/// run of L outputs (C1: 784 per map, 49 vectors of 16; C3: 100 per map, computed as 112). Subsampling is scalar
/// (its pairs straddle lanes), squashing vectorised; the dense layers are dot products with one horizontal sum
/// per unit, in the canonical order (<see cref="CanonicalSum"/>).
/// </summary>
internal static unsafe class SingleImage
{
    public const int C1Plane = InputSize * C1Size; // one shifted input: 32 rows of 28
    public const int C3Plane = 160;                // 14 rows of 10, padded: the 112-wide blocks read up to 151
    public const int C3Padded = 112;               // outputs per C3 map computed: 7·16 = 14·8 = 28·4
    private const int Block = 7;                   // vectors per block: 784 = 7·7·16 = 14·7·8 = 28·7·4

    /// <summary>Taps of the flattened convolutions (offsets in floats, independent of the vector width).</summary>
    public static ConvolutionTaps C1Taps { get; } = ConvolutionTaps.Flat(C1Maps, 1, C1Size, C1Plane, ConvolutionTaps.AllConnected);
    public static ConvolutionTaps C3Taps { get; } = ConvolutionTaps.Flat(C3Maps, C1Maps, C3Size, C3Plane, ConvolutionTaps.TableI);

    /// <summary>Per-worker scratch: shifted inputs and the padded C3 maps.</summary>
    public sealed class Scratch
    {
        public readonly PinnedBuffer<float> C1Planes = new(KernelSize * C1Plane), C3Planes = new(C1Maps * KernelSize * C3Plane),
            C3 = new(C3Maps * C3Padded), Vector = new(16);
    }

    /// <summary>
    /// Where one image's results go: its activations (<see cref="ActivationLayout.PerImage"/> floats, each layer at its
    /// <see cref="ActivationLayout.OffsetOf(Layer)"/>), its probabilities and its prediction.
    /// </summary>
    public readonly struct Outputs(float* activations, float* probabilities, int* prediction)
    {
        private readonly float* activations = activations;
        public readonly float* Probabilities = probabilities;
        public readonly int* Prediction = prediction;

        /// <summary>The image's output of <paramref name="layer"/>, image-major.</summary>
        public float* this[Layer layer] => activations + OffsetOf(layer);
    }

    /// <summary>Runs one image whose input is already in <c>o[Layer.Input]</c>.</summary>
    /// <param name="convolution">What C1 and C3 apply to their sums: the identity, or the squashing function.</param>
    public static void Forward<TS, TV>(float* p, Squashing squashing, Activation convolution, OutputLayer output, Scratch s, in Outputs o)
        where TS : struct, ISimd<TV> where TV : struct
    {
        Convolutions<TS, TV>(p, squashing, convolution, s, o);
        float* s4 = o[Layer.S4], c5 = o[Layer.C5], f6 = o[Layer.F6], logits = o[Layer.Output];

        Dense<TS, TV>(s4, LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, c5);
        Squash<TS, TV>(c5, C5Units, squashing, s.Vector.Pointer);
        Dense<TS, TV>(c5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, f6);
        Squash<TS, TV>(f6, F6Units, squashing, s.Vector.Pointer);
        Dense<TS, TV>(f6, F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, logits);
        if (output == OutputLayer.Rbf) RbfTiles.Distances(f6, logits);
        Softmax<TS, TV>(logits, o.Probabilities, o.Prediction, s.Vector.Pointer);
    }

    /// <summary>
    /// C1, S2, C3 and S4 of one image whose input is already in <c>o[Layer.Input]</c> (C5 onwards untouched): each output
    /// the same chain of float operations as a tile lane's (<see cref="ConvolutionTiles"/>, <see cref="SubsamplingTiles"/>),
    /// so a per-pattern training step takes them from here (<c>TileEngine.ForwardPattern</c>).
    /// </summary>
    public static void Convolutions<TS, TV>(float* p, Squashing squashing, Activation convolution, Scratch s, in Outputs o)
        where TS : struct, ISimd<TV> where TV : struct
    {
        float* input = o[Layer.Input], c1 = o[Layer.C1], s2 = o[Layer.S2], c3 = o[Layer.C3], s4 = o[Layer.S4];

        // C1: five shifted copies of the input, then 6 maps of 784 outputs.
        ShiftPlanes(input, 1, InputSize, C1Size, s.C1Planes.Pointer, C1Plane);
        FlatConvolution<TS, TV>(s.C1Planes.Pointer, c1, C1Maps, C1Size * C1Size, C1Size * C1Size, C1Taps, p + P.C1Weight.Offset, p + P.C1Bias.Offset);
        if (convolution != Activation.Identity) Squash<TS, TV>(c1, LengthOf(Layer.C1), squashing, s.Vector.Pointer);
        Subsample(c1, C1Maps, S2Size, C1Size, C1Size * C1Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, s2);
        Squash<TS, TV>(s2, LengthOf(Layer.S2), squashing, s.Vector.Pointer);

        // C3: five shifted copies of each S2 map, 16 maps of 112 (100 used) outputs.
        ShiftPlanes(s2, C1Maps, S2Size, C3Size, s.C3Planes.Pointer, C3Plane);
        FlatConvolution<TS, TV>(s.C3Planes.Pointer, s.C3.Pointer, C3Maps, C3Padded, C3Padded, C3Taps, p + P.C3Weight.Offset, p + P.C3Bias.Offset);
        if (convolution != Activation.Identity) Squash<TS, TV>(s.C3.Pointer, C3Maps * C3Padded, squashing, s.Vector.Pointer);
        for (int m = 0; m < C3Maps; m++)
            new ReadOnlySpan<float>(s.C3.Pointer + m * C3Padded, C3Size * C3Size).CopyTo(new Span<float>(c3 + m * C3Size * C3Size, C3Size * C3Size));
        Subsample(s.C3.Pointer, C3Maps, S4Size, C3Size, C3Padded, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, s4);
        Squash<TS, TV>(s4, LengthOf(Layer.S4), squashing, s.Vector.Pointer);
    }

    /// <summary>
    /// plane[m][kx][r][c] = in[m][r][c + kx] for c &lt; width (8 or more): the input seen by tap column kx. Rows of 28 or
    /// 10 floats, copied by vectors of 8, the last one overlapping the one before (a call to copy each costs more).
    /// </summary>
    private static void ShiftPlanes(float* input, int maps, int size, int width, float* planes, int planeStride)
    {
        for (int m = 0; m < maps; m++)
            for (int kx = 0; kx < KernelSize; kx++)
                for (int r = 0; r < size; r++)
                {
                    float* from = input + (m * size + r) * size + kx, to = planes + (m * KernelSize + kx) * planeStride + r * width;
                    for (int c = 0; c < width - 8; c += 8) Vector256.Store(Vector256.Load(from + c), to + c);
                    Vector256.Store(Vector256.Load(from + width - 8), to + width - 8);
                }
    }

    /// <summary>
    /// out[o][q] = bias[o] + Σ_t w[Weight[t]] · in[Offset[t] + q] for q &lt; vectors·L, in blocks of 7 vectors
    /// kept in registers while the taps stream past.
    /// </summary>
    private static void FlatConvolution<TS, TV>(float* input, float* output, int maps, int outputs, int mapStride,
        ConvolutionTaps taps, float* weights, float* bias) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        fixed (int* start = taps.Start, offsets = taps.Offset, weightIndex = taps.Weight)
            for (int o = 0; o < maps; o++)
            {
                TV b = TS.Broadcast(bias[o]);
                for (int q = 0; q < outputs; q += Block * L)
                {
                    TV a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b;
                    for (int t = start[o]; t < start[o + 1]; t++)
                    {
                        TV w = TS.Broadcast(weights[weightIndex[t]]);
                        float* x = input + offsets[t] + q;
                        a0 = TS.Fma(w, TS.Load(x), a0);
                        a1 = TS.Fma(w, TS.Load(x + L), a1);
                        a2 = TS.Fma(w, TS.Load(x + 2 * L), a2);
                        a3 = TS.Fma(w, TS.Load(x + 3 * L), a3);
                        a4 = TS.Fma(w, TS.Load(x + 4 * L), a4);
                        a5 = TS.Fma(w, TS.Load(x + 5 * L), a5);
                        a6 = TS.Fma(w, TS.Load(x + 6 * L), a6);
                    }
                    float* d = output + o * mapStride + q;
                    TS.Store(d, a0); TS.Store(d + L, a1); TS.Store(d + 2 * L, a2); TS.Store(d + 3 * L, a3);
                    TS.Store(d + 4 * L, a4); TS.Store(d + 5 * L, a5); TS.Store(d + 6 * L, a6);
                }
            }
    }

    /// <summary>out[m][Y][X] = c[m]·(2×2 sum) + b[m] (squashed afterwards); input rows rowStride apart, maps mapStride.</summary>
    private static void Subsample(float* input, int maps, int size, int rowStride, int mapStride, float* coefficient, float* bias, float* output)
    {
        for (int m = 0; m < maps; m++)
        {
            float c = coefficient[m], b = bias[m];
            for (int y = 0; y < size; y++)
            {
                float* top = input + m * mapStride + 2 * y * rowStride;
                float* bottom = top + rowStride;
                float* d = output + (m * size + y) * size;
                for (int x = 0; x < size; x++)
                    d[x] = MathF.FusedMultiplyAdd(c, top[2 * x] + top[2 * x + 1] + (bottom[2 * x] + bottom[2 * x + 1]), b);
            }
        }
    }

    /// <summary>v ← f(v) for n floats; a last partial vector goes through <paramref name="tail"/> (16 floats).</summary>
    private static void Squash<TS, TV>(float* v, int n, Squashing squashing, float* tail) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, k = n / L * L;
        VectorMath.SquashInPlace<TS, TV>(v, n / L, squashing);
        if (k == n) return;
        new ReadOnlySpan<float>(v + k, n - k).CopyTo(new Span<float>(tail, L));
        TS.Store(tail, VectorMath.Squash<TS, TV>(TS.Load(tail), squashing));
        new ReadOnlySpan<float>(tail, n - k).CopyTo(new Span<float>(v + k, n - k));
    }

    /// <summary>
    /// out[o] = bias[o] + Σ_j W[o,j]·in[j], four units sharing each input load. A unit's sum runs in 16 lanes (lane v adds
    /// the j ≡ v mod 16 in order; narrower vectors take the 16 lanes in turns), the lanes are added in
    /// <see cref="CanonicalSum"/>'s order and the tail past the last 16 inputs is scalar: the same bits at every width.
    /// </summary>
    private static void Dense<TS, TV>(float* input, int inUnits, float* weights, float* bias, int outUnits, float* output)
        where TS : struct, ISimd<TV> where TV : struct
    {
        const int G = CanonicalSum.Lanes;
        int L = TS.Lanes, full = inUnits / G * G, last = outUnits - 1;
        float* lanes = stackalloc float[L < G / 2 ? 4 * G : 1]; // the 4-lane path's lanes
        for (int o = 0; o < outUnits; o += 4)
        {
            int r1 = Math.Min(o + 1, last), r2 = Math.Min(o + 2, last), r3 = Math.Min(o + 3, last);
            float* w0 = weights + o * inUnits, w1 = weights + r1 * inUnits, w2 = weights + r2 * inUnits, w3 = weights + r3 * inUnits;
            float s0, s1, s2, s3;
            if (L == G)
            {
                TV a0 = TS.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (int j = 0; j < full; j += G)
                {
                    TV x = TS.Load(input + j);
                    a0 = TS.Fma(TS.Load(w0 + j), x, a0);
                    a1 = TS.Fma(TS.Load(w1 + j), x, a1);
                    a2 = TS.Fma(TS.Load(w2 + j), x, a2);
                    a3 = TS.Fma(TS.Load(w3 + j), x, a3);
                }
                (s0, s1, s2, s3) = (TS.Sum(a0), TS.Sum(a1), TS.Sum(a2), TS.Sum(a3));
            }
            else if (2 * L == G)
            {
                // Lanes 0–7 in a, 8–15 in b, in registers: eight independent chains.
                TV a0 = TS.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int j = 0; j < full; j += G)
                {
                    TV x = TS.Load(input + j), y = TS.Load(input + j + L);
                    a0 = TS.Fma(TS.Load(w0 + j), x, a0); b0 = TS.Fma(TS.Load(w0 + j + L), y, b0);
                    a1 = TS.Fma(TS.Load(w1 + j), x, a1); b1 = TS.Fma(TS.Load(w1 + j + L), y, b1);
                    a2 = TS.Fma(TS.Load(w2 + j), x, a2); b2 = TS.Fma(TS.Load(w2 + j + L), y, b2);
                    a3 = TS.Fma(TS.Load(w3 + j), x, a3); b3 = TS.Fma(TS.Load(w3 + j + L), y, b3);
                }
                (s0, s1, s2, s3) = (TS.Sum(a0) + TS.Sum(b0), TS.Sum(a1) + TS.Sum(b1), TS.Sum(a2) + TS.Sum(b2), TS.Sum(a3) + TS.Sum(b3));
            }
            else
            {
                Quarters<TS, TV>(input, full, w0, w1, w2, w3, lanes);
                (s0, s1, s2, s3) = (CanonicalSum.Of<TS, TV>(lanes, L), CanonicalSum.Of<TS, TV>(lanes + G, L),
                    CanonicalSum.Of<TS, TV>(lanes + 2 * G, L), CanonicalSum.Of<TS, TV>(lanes + 3 * G, L));
            }
            for (int j = full; j < inUnits; j++)
            {
                s0 += w0[j] * input[j]; s1 += w1[j] * input[j]; s2 += w2[j] * input[j]; s3 += w3[j] * input[j];
            }
            output[r3] = bias[r3] + s3; output[r2] = bias[r2] + s2; output[r1] = bias[r1] + s1; output[o] = bias[o] + s0;
        }
    }

    /// <summary>Four units' sums of the 16 lanes in 4-lane vectors, one quarter at a time, to lanes [4][16].</summary>
    private static void Quarters<TS, TV>(float* input, int full, float* w0, float* w1, float* w2, float* w3, float* lanes)
        where TS : struct, ISimd<TV> where TV : struct
    {
        const int G = CanonicalSum.Lanes;
        int L = TS.Lanes;
        for (int v = 0; v < G; v += L)
        {
            TV a0 = TS.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (int j = v; j < full; j += G)
            {
                TV x = TS.Load(input + j);
                a0 = TS.Fma(TS.Load(w0 + j), x, a0);
                a1 = TS.Fma(TS.Load(w1 + j), x, a1);
                a2 = TS.Fma(TS.Load(w2 + j), x, a2);
                a3 = TS.Fma(TS.Load(w3 + j), x, a3);
            }
            TS.Store(lanes + v, a0); TS.Store(lanes + G + v, a1); TS.Store(lanes + 2 * G + v, a2); TS.Store(lanes + 3 * G + v, a3);
        }
    }

    /// <summary>The softmax of <see cref="SoftmaxTiles"/> for one image (same exp, same order of the sum).</summary>
    private static void Softmax<TS, TV>(float* logits, float* probabilities, int* prediction, float* vector)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes, best = 0;
        float max = logits[0];
        for (int c = 1; c < Classes; c++)
            if (logits[c] > max) { max = logits[c]; best = c; }
        for (int c = 0; c < Classes; c += L)
        {
            for (int k = 0; k < L; k++) vector[k] = c + k < Classes ? logits[c + k] - max : 0f;
            TS.Store(vector, Exp.OfNonPositive<TS, TV>(TS.Load(vector)));
            for (int k = 0; k < L && c + k < Classes; k++) probabilities[c + k] = vector[k];
        }
        float total = 0f;
        for (int c = 0; c < Classes; c++) total += probabilities[c];
        float inverse = 1f / total;
        for (int c = 0; c < Classes; c++) probabilities[c] *= inverse;
        *prediction = best;
    }
}

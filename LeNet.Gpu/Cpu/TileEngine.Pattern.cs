using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Cpu.BackwardWorkspace;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// A per-pattern training step (one image, a backward pass to follow) within the image, never in a tile, on the
/// calling thread. It gives the bits of the tiled step for a batch of 1 (PatternPathTests), because in a tile the
/// image's lane never meets another lane until the 16 lanes of each gradient sum are added
/// (<see cref="CanonicalSum"/>), and there the empty lanes add nothing: their loss gradients are 0, so every product
/// they add is ±0 (their activations are finite), and a sum started at +0 stays +0; the image's own sum, also started
/// at +0, is never −0 (round to nearest gives −0 only for −0 + −0), so adding +0 leaves it as it is. Each of the image's
/// values is therefore its lane's chain of operations:
/// <code>
/// C1–S4        SingleImage.Convolutions (the tile's chains, vectorised within the image)
/// C5–softmax   each unit the tile's chain, eight units to a vector; the softmax on one lane (SimdScalar)
/// backward     one lane of TileEngine.BackwardTile: input gradients of the dense layers across their inputs (the chain
///              over units is the tile's), weight gradients d·x + 0 (the tile's first image), the convolutions'
///              gradients within the image (ConvolutionTiles.*OfOneImage), the rest on one lane
/// </code>
/// The second-order mode (Hessian estimates) runs the image through the tiles instead.
/// </summary>
internal sealed unsafe partial class TileEngine<TS, TV>
{
    private bool patternForward; // the last forward pass was a per-pattern step's: its activations are in patternSlots
    private readonly ConvolutionTiles.OneImageScratch? oneImage; // the one-image convolution kernels' scratch

    private void ForwardPattern()
    {
        float* slot = patternSlots!.Pointer, p = parameters;
        new ReadOnlySpan<float>(images, InputLength).CopyTo(new Span<float>(slot + OffsetOf(Layer.Input), InputLength));
        Convolutions(slot);
        DenseForwardOfOneImage(slot + OffsetOf(Layer.S4), LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, slot + OffsetOf(Layer.C5));
        Squash(slot + OffsetOf(Layer.C5), C5Units, squashing);
        DenseForwardOfOneImage(slot + OffsetOf(Layer.C5), C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, slot + OffsetOf(Layer.F6));
        Squash(slot + OffsetOf(Layer.F6), F6Units, squashing);
        DenseForwardOfOneImage(slot + OffsetOf(Layer.F6), F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, slot + OffsetOf(Layer.Output));
        if (output == OutputLayer.Rbf) RbfTiles.Distances<SimdScalar, float>(slot + OffsetOf(Layer.F6), slot + OffsetOf(Layer.Output));
        float* scratch = stackalloc float[Classes];
        SoftmaxTiles.Forward<SimdScalar, float>(slot + OffsetOf(Layer.Output), 1, probabilities.Pointer, predictions.Pointer, scratch);
        looseStart = -1;
        patternForward = true;
    }

    /// <summary>
    /// out[o] = bias[o] + Σ_j W[o][j]·in[j] for one image, each unit the tile's chain (FullyConnectedTiles.Forward:
    /// from the bias, one fused multiply-add per input in order), eight units to a vector: an 8×8 block of W turned
    /// in registers gives the eight units' weights of one input. Two groups of eight at a time (independent chains);
    /// a last group short of eight repeats the last unit and keeps only its own lanes.
    /// </summary>
    private static void DenseForwardOfOneImage(float* input, int inUnits, float* weights, float* bias, int outUnits, float* output)
    {
        int full = inUnits & ~7, last = outUnits - 1;
        float* lanes = stackalloc float[16];
        float** rows = stackalloc float*[16];
        for (int o = 0; o < outUnits; o += 16)
        {
            bool two = o + 8 < outUnits; // a second group (possibly short)
            for (int r = 0; r < 16; r++)
            {
                int unit = Math.Min(o + r, last);
                rows[r] = weights + (long)unit * inUnits;
                lanes[r] = bias[unit];
            }
            Vector256<float> a = Vector256.Load(lanes), b = Vector256.Load(lanes + 8);
            for (int j = 0; j < full; j += 8)
            {
                Transpose8(rows, j, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                a = Vector256.FusedMultiplyAdd(c0, Vector256.Create(input[j]), a);
                a = Vector256.FusedMultiplyAdd(c1, Vector256.Create(input[j + 1]), a);
                a = Vector256.FusedMultiplyAdd(c2, Vector256.Create(input[j + 2]), a);
                a = Vector256.FusedMultiplyAdd(c3, Vector256.Create(input[j + 3]), a);
                a = Vector256.FusedMultiplyAdd(c4, Vector256.Create(input[j + 4]), a);
                a = Vector256.FusedMultiplyAdd(c5, Vector256.Create(input[j + 5]), a);
                a = Vector256.FusedMultiplyAdd(c6, Vector256.Create(input[j + 6]), a);
                a = Vector256.FusedMultiplyAdd(c7, Vector256.Create(input[j + 7]), a);
                if (!two) continue;
                Transpose8(rows + 8, j, out c0, out c1, out c2, out c3, out c4, out c5, out c6, out c7);
                b = Vector256.FusedMultiplyAdd(c0, Vector256.Create(input[j]), b);
                b = Vector256.FusedMultiplyAdd(c1, Vector256.Create(input[j + 1]), b);
                b = Vector256.FusedMultiplyAdd(c2, Vector256.Create(input[j + 2]), b);
                b = Vector256.FusedMultiplyAdd(c3, Vector256.Create(input[j + 3]), b);
                b = Vector256.FusedMultiplyAdd(c4, Vector256.Create(input[j + 4]), b);
                b = Vector256.FusedMultiplyAdd(c5, Vector256.Create(input[j + 5]), b);
                b = Vector256.FusedMultiplyAdd(c6, Vector256.Create(input[j + 6]), b);
                b = Vector256.FusedMultiplyAdd(c7, Vector256.Create(input[j + 7]), b);
            }
            a.Store(lanes);
            b.Store(lanes + 8);
            for (int r = 0; r < 16 && o + r < outUnits; r++)
            {
                float sum = lanes[r];
                for (int j = full; j < inUnits; j++) sum = MathF.FusedMultiplyAdd(rows[r][j], input[j], sum);
                output[o + r] = sum;
            }
        }
    }

    /// <summary>c_k = (rows[0][j + k], …, rows[7][j + k]): eight rows' floats j … j+7 turned into eight columns.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float** rows, int j, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3,
        out Vector256<float> c4, out Vector256<float> c5, out Vector256<float> c6, out Vector256<float> c7)
    {
        var t0 = Avx.UnpackLow(Vector256.Load(rows[0] + j), Vector256.Load(rows[1] + j));
        var t1 = Avx.UnpackHigh(Vector256.Load(rows[0] + j), Vector256.Load(rows[1] + j));
        var t2 = Avx.UnpackLow(Vector256.Load(rows[2] + j), Vector256.Load(rows[3] + j));
        var t3 = Avx.UnpackHigh(Vector256.Load(rows[2] + j), Vector256.Load(rows[3] + j));
        var t4 = Avx.UnpackLow(Vector256.Load(rows[4] + j), Vector256.Load(rows[5] + j));
        var t5 = Avx.UnpackHigh(Vector256.Load(rows[4] + j), Vector256.Load(rows[5] + j));
        var t6 = Avx.UnpackLow(Vector256.Load(rows[6] + j), Vector256.Load(rows[7] + j));
        var t7 = Avx.UnpackHigh(Vector256.Load(rows[6] + j), Vector256.Load(rows[7] + j));
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        c0 = Avx.Permute2x128(u0, u4, 0x20); c1 = Avx.Permute2x128(u1, u5, 0x20);
        c2 = Avx.Permute2x128(u2, u6, 0x20); c3 = Avx.Permute2x128(u3, u7, 0x20);
        c4 = Avx.Permute2x128(u0, u4, 0x31); c5 = Avx.Permute2x128(u1, u5, 0x31);
        c6 = Avx.Permute2x128(u2, u6, 0x31); c7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>v ← f(v) for one image's count values (elementwise: any width gives the same bits).</summary>
    private static void Squash(float* v, int count, Squashing squashing)
    {
        int full = count & ~7;
        VectorMath.SquashInPlace<Simd256, Vector256<float>>(v, full / 8, squashing);
        VectorMath.SquashInPlace<SimdScalar, float>(v + full, count - full, squashing);
    }

    /// <summary>The per-pattern step's image through tile 0 as the tiled pass runs it (for a backward pass the step cannot take).</summary>
    private void TilePattern()
    {
        TileStaging<TS, TV>.Floats(patternSlots!.Pointer + OffsetOf(Layer.Input), 1, TileOf(Layer.Input, 0));
        kept = true; // the backward pass and the copies read the batch's buffers
        ForwardTile(0, 1, 0);
        patternForward = false;
    }

    // A fused SDLM update (BackwardPatternSdlm): the step sizes, null when gradients are only written, and the weight decay.
    private float* sdlmSteps;
    private float sdlmDecay;

    public bool BackwardPatternSdlm(float* parameters, Squashing squashing, int* labels, float* gradients, float mapJ, float* stepSizes, float weightDecay,
        out double lossSum, out int correct)
    {
        if (!patternForward)
        {
            (lossSum, correct) = (0, 0);
            return false;
        }
        this.parameters = parameters;
        this.squashing = squashing;
        this.labels = labels;
        this.mapJ = mapJ;
        secondOrder = false;
        backwardCount = 1;
        sdlmSteps = stepSizes;
        sdlmDecay = weightDecay;
        BackwardPattern(gradients, out lossSum, out correct);
        sdlmSteps = null;
        this.labels = null;
        return true;
    }

    /// <summary>
    /// The backward pass of a per-pattern step (first order): the gradients of the one image in the flat layout, or with
    /// <see cref="sdlmSteps"/> set, the dense layers' weights stepped in place instead of their gradients written.
    /// </summary>
    private void BackwardPattern(float* g, out double lossSum, out int correct)
    {
        var s = workspaces[0];
        var sq = squashing;
        float* w = parameters, slot = patternSlots!.Pointer;
        float* x = slot + OffsetOf(Layer.Input), a1 = slot + OffsetOf(Layer.C1), a2 = slot + OffsetOf(Layer.S2), a3 = slot + OffsetOf(Layer.C3), a4 = slot + OffsetOf(Layer.S4);
        float* a5 = slot + OffsetOf(Layer.C5), a6 = slot + OffsetOf(Layer.F6);
        float* dLogits = tileDeltas.Pointer, dF6 = dLogits + OutputRows, dC5 = dF6 + LengthOf(Layer.F6);
        float* dS4 = s.DS4.Pointer, dC3 = s.DC3.Pointer, dS2 = s.DS2.Pointer, dC1 = s.DC1.Pointer;
        correct = 0;

        if (output == OutputLayer.Rbf)
        {
            RbfTiles.Backward(1, 1, 1, false, mapJ, slot + OffsetOf(Layer.Output), a6, w + P.OutputWeight.Offset, predictions.Pointer, labels, dF6,
                imageLosses.Pointer, ref correct);
            new Span<float>(g + P.OutputWeight.Offset, P.OutputWeight.Length + P.OutputBias.Length).Clear();
        }
        else
        {
            SoftmaxTiles.Backward(1, 1, 1, false, probabilities.Pointer, predictions.Pointer, labels, dLogits, imageLosses.Pointer, ref correct);
            DenseOfOneImage(dLogits, Classes, a6, F6Units, w + P.OutputWeight.Offset, g + P.OutputWeight.Offset, g + P.OutputBias.Offset, dF6,
                StepsOf(P.OutputWeight.Offset), sdlmDecay);
        }
        lossSum = 0;
        lossSum += imageLosses.Pointer[0];

        SquashBackward(dF6, a6, F6Units, sq);
        DenseOfOneImage(dF6, F6Units, a5, C5Units, w + P.F6Weight.Offset, g + P.F6Weight.Offset, g + P.F6Bias.Offset, dC5,
            StepsOf(P.F6Weight.Offset), sdlmDecay);
        SquashBackward(dC5, a5, C5Units, sq);
        DenseOfOneImage(dC5, C5Units, a4, LengthOf(Layer.S4), w + P.C5Weight.Offset, g + P.C5Weight.Offset, g + P.C5Bias.Offset, dS4,
            StepsOf(P.C5Weight.Offset), sdlmDecay);

        // S4, then C3 (its masked weights exactly 0).
        SquashBackward(dS4, a4, LengthOf(Layer.S4), sq);
        Subsampling(dS4, a3, C3Maps, S4Size, w + P.S4Coefficient.Offset, g + P.S4Coefficient.Offset, g + P.S4Bias.Offset, dC3, C3Size, C3Size * C3Size);
        if (convolution != Activation.Identity) SquashBackward(dC3, a3, LengthOf(Layer.C3), sq);
        new Span<float>(g + P.C3Weight.Offset, P.C3Weight.Length).Clear();
        ConvolutionTiles.C3WeightGradientOfOneImage(dC3, a2, C3Connections.OutputsOf.Start, C3Connections.OutputsOf.Outputs,
            g + P.C3Weight.Offset, g + P.C3Bias.Offset, oneImage!);
        ConvolutionTiles.InputGradientC3OfOneImage(dC3, w + P.C3Weight.Offset, C3Connections.OutputsOf.Start, C3Connections.OutputsOf.Outputs,
            oneImage!, dS2);

        // S2, then C1 (the input needs no gradient).
        SquashBackward(dS2, a2, LengthOf(Layer.S2), sq);
        Subsampling(dS2, a1, C1Maps, S2Size, w + P.S2Coefficient.Offset, g + P.S2Coefficient.Offset, g + P.S2Bias.Offset, dC1, C1Size, C1Size * C1Size);
        if (convolution != Activation.Identity) SquashBackward(dC1, a1, LengthOf(Layer.C1), sq);
        ConvolutionTiles.C1WeightGradientOfOneImage(dC1, x, g + P.C1Weight.Offset, g + P.C1Bias.Offset, oneImage!);
    }

    private float* StepsOf(int offset) => sdlmSteps == null ? null : sdlmSteps + offset;

    /// <summary>
    /// A dense layer's gradients for one image, given dA (after the squashing) and its input x: bias[o] = +0 + dA[o],
    /// weight[o][j] = dA[o]·x[j] + 0 (the tile's first image into a sum of zeros), and the input gradient
    /// dIn[j] = Σ_o W[o][j]·dA[o], the tile's chain over o from +0, across j in vectors of 8 (the rest one by one).
    /// With <paramref name="steps"/> the weights take their SDLM step w ← w − s·(g + λw) once dIn is formed, in
    /// <see cref="CpuOptimizer"/>'s float operations, and their gradients are not written: the update then reads
    /// the weights once and writes them once, where a separate update would read the gradients back.
    /// </summary>
    private static void DenseOfOneImage(float* dA, int outUnits, float* input, int inUnits, float* weights, float* weightGradient, float* biasGradient,
        float* dIn, float* steps, float decay)
    {
        int full = inUnits & ~7;
        for (int o = 0; o < outUnits; o++) biasGradient[o] = 0f + dA[o];
        if (steps == null)
            for (int o = 0; o < outUnits; o++)
            {
                var d = Vector256.Create(dA[o]);
                float* gRow = weightGradient + (long)o * inUnits;
                int j = 0;
                for (; j < full; j += 8) Vector256.FusedMultiplyAdd(d, Vector256.Load(input + j), Vector256<float>.Zero).Store(gRow + j);
                for (; j < inUnits; j++) gRow[j] = MathF.FusedMultiplyAdd(dA[o], input[j], 0f);
            }
        InputGradientOfOneImage(dA, outUnits, weights, inUnits, dIn);
        if (steps == null) return;
        var lambda = Vector256.Create(decay);
        for (int o = 0; o < outUnits; o++)
        {
            var d = Vector256.Create(dA[o]);
            float* wRow = weights + (long)o * inUnits, sRow = steps + (long)o * inUnits;
            int j = 0;
            for (; j < full; j += 8)
            {
                var w = Vector256.Load(wRow + j);
                var g = Vector256.FusedMultiplyAdd(d, Vector256.Load(input + j), Vector256<float>.Zero) + lambda * w;
                (w - Vector256.Load(sRow + j) * g).Store(wRow + j);
            }
            for (; j < inUnits; j++)
            {
                float g = MathF.FusedMultiplyAdd(dA[o], input[j], 0f) + decay * wRow[j];
                wRow[j] -= sRow[j] * g;
            }
        }
    }

    /// <summary>dIn[j] = Σ_o W[o][j]·dA[o] for one image: the tile's chain over o from +0, across j in vectors of 8 (the rest one by one).</summary>
    private static void InputGradientOfOneImage(float* dA, int outUnits, float* weights, int inUnits, float* dIn)
    {
        int full = inUnits & ~7, at = 0;
        for (; at + 40 <= full; at += 40)
        {
            Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0, s4 = s0;
            float* q = weights + at;
            for (int o = 0; o < outUnits; o++, q += inUnits)
            {
                var d = Vector256.Create(dA[o]);
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(q), d, s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(q + 8), d, s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(q + 16), d, s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(q + 24), d, s3);
                s4 = Vector256.FusedMultiplyAdd(Vector256.Load(q + 32), d, s4);
            }
            s0.Store(dIn + at); s1.Store(dIn + at + 8); s2.Store(dIn + at + 16); s3.Store(dIn + at + 24); s4.Store(dIn + at + 32);
        }
        for (; at < full; at += 8)
        {
            var s0 = Vector256<float>.Zero;
            for (int o = 0; o < outUnits; o++) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(weights + (long)o * inUnits + at), Vector256.Create(dA[o]), s0);
            s0.Store(dIn + at);
        }
        for (; at < inUnits; at++)
        {
            float s0 = 0f;
            for (int o = 0; o < outUnits; o++) s0 = MathF.FusedMultiplyAdd(weights[(long)o * inUnits + at], dA[o], s0);
            dIn[at] = s0;
        }
    }

    /// <summary>dA ← dA·f'(y) over one image's count values (elementwise: any width gives the same bits).</summary>
    private static void SquashBackward(float* gradient, float* output, int count, Squashing squashing)
    {
        int full = count & ~7;
        FullyConnectedTiles.SquashBackward<Simd256, Vector256<float>>(gradient, output, full / 8, squashing, false);
        FullyConnectedTiles.SquashBackward<SimdScalar, float>(gradient + full, output + full, count - full, squashing, false);
    }

    /// <summary>A subsampling layer's backward pass on one image; its coefficient and bias gradients from +0, written to the flat layout.</summary>
    private static void Subsampling(float* dA, float* input, int maps, int size, float* coefficient, float* coefficientGradient, float* biasGradient,
        float* dIn, int dInRow, int dInMap)
    {
        new Span<float>(coefficientGradient, maps).Clear();
        new Span<float>(biasGradient, maps).Clear();
        SubsamplingTiles.Backward<SimdScalar, float>(dA, input, maps, size, coefficient, false, coefficientGradient, biasGradient, dIn, dInRow, dInMap);
    }
}

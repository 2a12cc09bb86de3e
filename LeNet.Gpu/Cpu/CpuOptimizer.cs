using System.Numerics;
using System.Runtime.InteropServices;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The parameter updates of <see cref="Kernels.OptimizerKernels"/> on the CPU, over spans of the flat parameter
/// layout (61,750 floats), vectorised with <see cref="Vector{T}"/>. Each lane performs exactly the float
/// operations of the device kernel, in the same order and without fused multiply-adds, so a step gives the same
/// bits as the scalar formula. Where <c>trainable</c> is 0 (the C3 weights Table I leaves out) nothing changes —
/// neither the parameter nor the optimizer state — whatever the learning rate or weight decay.
/// Gradients are batch means, as <c>CpuNetwork.Backward</c> writes them.
/// </summary>
public static class CpuOptimizer
{
    /// <summary>SGD with momentum and L2 weight decay: g ← g + λw; v ← μv − lr·g; w ← w + v.</summary>
    public static void Sgd(float learningRate, float momentum, float weightDecay,
        Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> velocity, ReadOnlySpan<float> trainable)
    {
        Check(parameters.Length, gradients.Length, velocity.Length, trainable.Length);
        var w = Cast(parameters); var gr = Cast(gradients); var ve = Cast(velocity); var t = Cast(trainable);
        var lr = new Vector<float>(learningRate); var mu = new Vector<float>(momentum); var wd = new Vector<float>(weightDecay);
        for (int k = 0; k < w.Length; k++)
        {
            var keep = Vector.Equals(t[k], Vector<float>.Zero);
            var g = gr[k] + wd * w[k];
            var v = mu * ve[k] - lr * g;
            ve[k] = Vector.ConditionalSelect(keep, ve[k], v);
            w[k] = Vector.ConditionalSelect(keep, w[k], w[k] + v);
        }
        for (int i = w.Length * Vector<float>.Count; i < parameters.Length; i++)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            float v = momentum * velocity[i] - learningRate * g;
            velocity[i] = v;
            parameters[i] += v;
        }
    }

    /// <summary>
    /// Adam with L2 weight decay: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; w ← w − lr·(m/c1)/(√(v/c2) + ε), with
    /// the bias corrections c1 = 1 − β1^t and c2 = 1 − β2^t given by the caller (as the trainer computes them).
    /// </summary>
    public static void Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay,
        float correction1, float correction2,
        Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment, ReadOnlySpan<float> trainable)
    {
        Check(parameters.Length, gradients.Length, firstMoment.Length, trainable.Length);
        Check(parameters.Length, secondMoment.Length, secondMoment.Length, secondMoment.Length);
        var w = Cast(parameters); var gr = Cast(gradients); var mv = Cast(firstMoment); var vv = Cast(secondMoment); var t = Cast(trainable);
        var lr = new Vector<float>(learningRate); var b1 = new Vector<float>(beta1); var b2 = new Vector<float>(beta2);
        var c1 = new Vector<float>(1f - beta1); var c2 = new Vector<float>(1f - beta2);
        var eps = new Vector<float>(epsilon); var wd = new Vector<float>(weightDecay);
        var k1 = new Vector<float>(correction1); var k2 = new Vector<float>(correction2);
        for (int k = 0; k < w.Length; k++)
        {
            var keep = Vector.Equals(t[k], Vector<float>.Zero);
            var g = gr[k] + wd * w[k];
            var mi = b1 * mv[k] + c1 * g;
            var vi = b2 * vv[k] + c2 * g * g;
            var step = lr * (mi / k1) / (Vector.SquareRoot(vi / k2) + eps);
            mv[k] = Vector.ConditionalSelect(keep, mv[k], mi);
            vv[k] = Vector.ConditionalSelect(keep, vv[k], vi);
            w[k] = Vector.ConditionalSelect(keep, w[k], w[k] - step);
        }
        for (int i = w.Length * Vector<float>.Count; i < parameters.Length; i++)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            float mi = beta1 * firstMoment[i] + (1f - beta1) * g;
            float vi = beta2 * secondMoment[i] + (1f - beta2) * g * g;
            firstMoment[i] = mi;
            secondMoment[i] = vi;
            parameters[i] -= learningRate * (mi / correction1) / (MathF.Sqrt(vi / correction2) + epsilon);
        }
    }

    /// <summary>
    /// Stochastic diagonal Levenberg–Marquardt (LeCun et al. 1998, Appendix C): w ← w − ε/(μ + h)·(g + λw), h the
    /// Hessian diagonal estimated with <c>CpuNetwork.Backward</c>'s second-order mode and <see cref="Accumulate"/>.
    /// </summary>
    public static void Sdlm(float learningRate, float mu, float weightDecay,
        Span<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> hessian, ReadOnlySpan<float> trainable)
    {
        Check(parameters.Length, gradients.Length, hessian.Length, trainable.Length);
        var w = Cast(parameters); var gr = Cast(gradients); var h = Cast(hessian); var t = Cast(trainable);
        var lr = new Vector<float>(learningRate); var muv = new Vector<float>(mu); var wd = new Vector<float>(weightDecay);
        for (int k = 0; k < w.Length; k++)
        {
            var keep = Vector.Equals(t[k], Vector<float>.Zero);
            var g = gr[k] + wd * w[k];
            w[k] = Vector.ConditionalSelect(keep, w[k], w[k] - lr / (muv + h[k]) * g);
        }
        for (int i = w.Length * Vector<float>.Count; i < parameters.Length; i++)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            parameters[i] -= learningRate / (mu + hessian[i]) * g;
        }
    }

    /// <summary>
    /// The step sizes ε/(μ + h) of <see cref="Sdlm(float, float, float, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float})"/>, which change only with ε, μ and the Hessian estimate: a per-pattern
    /// trainer computes them once for many steps rather than dividing 61,750 times a step.
    /// </summary>
    public static void SdlmStepSizes(float learningRate, float mu, ReadOnlySpan<float> hessian, Span<float> stepSizes)
    {
        Check(hessian.Length, stepSizes.Length, hessian.Length, hessian.Length);
        var h = Cast(hessian); var s = Cast(stepSizes);
        var lr = new Vector<float>(learningRate); var muv = new Vector<float>(mu);
        for (int k = 0; k < s.Length; k++) s[k] = lr / (muv + h[k]);
        for (int i = s.Length * Vector<float>.Count; i < hessian.Length; i++) stepSizes[i] = learningRate / (mu + hessian[i]);
    }

    /// <summary>
    /// <see cref="Sdlm(float, float, float, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float})"/> with its step sizes from <see cref="SdlmStepSizes"/>: w ← w − s·(g + λw), the same float operations
    /// in the same order (Sdlm's ε/(μ + h)·g is s·g), so the same bits.
    /// </summary>
    public static void SdlmWithStepSizes(float weightDecay, Span<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> stepSizes,
        ReadOnlySpan<float> trainable)
    {
        Check(parameters.Length, gradients.Length, stepSizes.Length, trainable.Length);
        var w = Cast(parameters); var gr = Cast(gradients); var s = Cast(stepSizes); var t = Cast(trainable);
        var wd = new Vector<float>(weightDecay);
        for (int k = 0; k < w.Length; k++)
        {
            var keep = Vector.Equals(t[k], Vector<float>.Zero);
            var g = gr[k] + wd * w[k];
            w[k] = Vector.ConditionalSelect(keep, w[k], w[k] - s[k] * g);
        }
        for (int i = w.Length * Vector<float>.Count; i < parameters.Length; i++)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            parameters[i] -= stepSizes[i] * g;
        }
    }

    /// <summary>The runs of trainable entries of a mask (1 trainable, 0 kept), as pairs start, end.</summary>
    internal static int[] TrainableRuns(ReadOnlySpan<float> trainable)
    {
        var runs = new List<int>();
        for (int i = 0; i < trainable.Length; i++)
        {
            if (trainable[i] == 0f) continue;
            int start = i;
            while (i < trainable.Length && trainable[i] != 0f) i++;
            runs.Add(start);
            runs.Add(i);
        }
        return runs.ToArray();
    }

    /// <summary>
    /// <see cref="SdlmWithStepSizes(float, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float})"/> over the
    /// trainable runs of the mask (<see cref="TrainableRuns"/>) alone: the same float operations on the same entries, so the
    /// same bits, without streaming the mask. A per-pattern step's update is memory-bound: without the mask its arrays
    /// (parameters, gradients, step sizes) stay in a Zen 4 core's 1 MB L2 cache beside the step's activations.
    /// </summary>
    internal static void SdlmWithStepSizes(float weightDecay, Span<float> parameters, ReadOnlySpan<float> gradients, ReadOnlySpan<float> stepSizes,
        int[] runs)
    {
        Check(parameters.Length, gradients.Length, stepSizes.Length, parameters.Length);
        var wd = new Vector<float>(weightDecay);
        for (int r = 0; r < runs.Length; r += 2)
        {
            int start = runs[r], length = runs[r + 1] - start;
            var w = Cast(parameters.Slice(start, length)); var gr = Cast(gradients.Slice(start, length)); var s = Cast(stepSizes.Slice(start, length));
            for (int k = 0; k < w.Length; k++)
            {
                var g = gr[k] + wd * w[k];
                w[k] = w[k] - s[k] * g;
            }
            for (int i = start + w.Length * Vector<float>.Count; i < start + length; i++)
            {
                float g = gradients[i] + weightDecay * parameters[i];
                parameters[i] -= stepSizes[i] * g;
            }
        }
    }

    /// <summary>target ← target + scale·source (the Hessian estimate as a mean of per-batch diagonals).</summary>
    public static void Accumulate(float scale, ReadOnlySpan<float> source, Span<float> target)
    {
        Check(target.Length, source.Length, target.Length, target.Length);
        var s = Cast(source); var d = Cast(target);
        var a = new Vector<float>(scale);
        for (int k = 0; k < d.Length; k++) d[k] += a * s[k];
        for (int i = d.Length * Vector<float>.Count; i < target.Length; i++) target[i] += scale * source[i];
    }

    private static Span<Vector<float>> Cast(Span<float> s) => MemoryMarshal.Cast<float, Vector<float>>(s);
    private static ReadOnlySpan<Vector<float>> Cast(ReadOnlySpan<float> s) => MemoryMarshal.Cast<float, Vector<float>>(s);

    private static void Check(int parameters, int a, int b, int c)
    {
        if (a != parameters || b != parameters || c != parameters)
            throw new ArgumentException($"every span must hold as many floats as the parameters ({parameters})");
    }
}

using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Parameter updates over the flat parameter buffer of <c>length</c> elements. Thread i of <c>threads</c> takes
/// elements i, i + threads, i + 2·threads… (a grid-stride loop): on a GPU the runtime launches one thread per
/// element, on the CPU accelerator a few hundred, since each simulated thread costs about a microsecond.
/// Neighbouring threads still touch neighbouring elements. <c>trainable</c> is 1 for every
/// parameter and 0 for the C3 weights the connection table leaves out: those threads return at once, so
/// masked weights never move whatever the learning rate or weight decay. Gradients are batch means.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>SGD with momentum and L2 weight decay: v ← μv − lr(g + λw); w ← w + v.</summary>
    public static void Sgd(Index1D index, int length, int threads, float learningRate, float momentum, float weightDecay,
        ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> velocity, ArrayView<float> trainable)
    {
        for (int i = index; i < length; i += threads)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            float v = momentum * velocity[i] - learningRate * g;
            velocity[i] = v;
            parameters[i] += v;
        }
    }

    /// <summary>Adam (Kingma &amp; Ba) with L2 weight decay; correction1/2 = 1 − β1^t, 1 − β2^t from the host.</summary>
    public static void Adam(Index1D index, int length, int threads, float learningRate, float beta1, float beta2, float epsilon, float weightDecay,
        float correction1, float correction2,
        ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment, ArrayView<float> secondMoment,
        ArrayView<float> trainable)
    {
        for (int i = index; i < length; i += threads)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            float mi = beta1 * firstMoment[i] + (1f - beta1) * g;
            float vi = beta2 * secondMoment[i] + (1f - beta2) * g * g;
            firstMoment[i] = mi;
            secondMoment[i] = vi;
            parameters[i] -= learningRate * (mi / correction1) / (XMath.Sqrt(vi / correction2) + epsilon);
        }
    }

    /// <summary>
    /// Stochastic diagonal Levenberg–Marquardt (LeCun et al. 1998, Appendix C): w ← w − ε/(μ + h_kk) · g, with
    /// h_kk the Hessian diagonal estimated before the pass (<see cref="Accumulate"/>).
    /// </summary>
    public static void Sdlm(Index1D index, int length, int threads, float learningRate, float mu, float weightDecay,
        ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> hessian, ArrayView<float> trainable)
    {
        for (int i = index; i < length; i += threads)
        {
            if (trainable[i] == 0f) continue;
            float g = gradients[i] + weightDecay * parameters[i];
            parameters[i] -= learningRate / (mu + hessian[i]) * g;
        }
    }

    /// <summary>target ← target + scale · source (Hessian estimate: the mean of per-batch diagonals).</summary>
    public static void Accumulate(Index1D index, int length, int threads, float scale,
        ArrayView<float> source, ArrayView<float> target)
    {
        for (int i = index; i < length; i += threads)
            target[i] += scale * source[i];
    }
}

/// <summary>SGD's settings for one step: v ← μv − lr(g + λw).</summary>
public readonly record struct SgdStep(float LearningRate, float Momentum, float WeightDecay);

/// <summary>Adam's settings for one step; corrections 1 − β1^t and 1 − β2^t.</summary>
public readonly record struct AdamStep(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay,
    float Correction1, float Correction2);

/// <summary>SDLM's settings for one step: w ← w − lr / (μ + h) · (g + λw).</summary>
public readonly record struct SdlmStep(float LearningRate, float Mu, float WeightDecay);

/// <summary>
/// The optimizer kernels loaded for one accelerator. Each launch is a grid-stride loop over the whole flat buffer
/// (the parameters' length), sized by <see cref="LaunchGrid.ThreadsFor"/> unless a thread count is given (tests give one
/// that divides nothing, so every thread takes several elements).
/// </summary>
public sealed class OptimizerLaunches
{
    private readonly LaunchGrid grid;
    private readonly Action<AcceleratorStream, Index1D, int, int, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> sgd;
    private readonly Action<AcceleratorStream, Index1D, int, int, float, float, float, float, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> adam;
    private readonly Action<AcceleratorStream, Index1D, int, int, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> sdlm;
    private readonly Action<AcceleratorStream, Index1D, int, int, float, ArrayView<float>, ArrayView<float>> accumulate;

    public OptimizerLaunches(Accelerator accelerator)
    {
        grid = new LaunchGrid(accelerator);
        sgd = accelerator.LoadAutoGroupedKernel<Index1D, int, int, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Sgd);
        adam = accelerator.LoadAutoGroupedKernel<Index1D, int, int, float, float, float, float, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Adam);
        sdlm = accelerator.LoadAutoGroupedKernel<Index1D, int, int, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Sdlm);
        accumulate = accelerator.LoadAutoGroupedKernel<Index1D, int, int, float, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Accumulate);
    }

    public void Sgd(AcceleratorStream stream, SgdStep step, ArrayView<float> parameters, ArrayView<float> gradients,
        ArrayView<float> velocity, ArrayView<float> trainable, int threads = 0)
    {
        int length = (int)parameters.Length;
        threads = threads > 0 ? threads : grid.ThreadsFor(length);
        sgd(stream, threads, length, threads, step.LearningRate, step.Momentum, step.WeightDecay, parameters, gradients, velocity, trainable);
    }

    public void Adam(AcceleratorStream stream, AdamStep step, ArrayView<float> parameters, ArrayView<float> gradients,
        ArrayView<float> firstMoment, ArrayView<float> secondMoment, ArrayView<float> trainable, int threads = 0)
    {
        int length = (int)parameters.Length;
        threads = threads > 0 ? threads : grid.ThreadsFor(length);
        adam(stream, threads, length, threads, step.LearningRate, step.Beta1, step.Beta2, step.Epsilon, step.WeightDecay,
            step.Correction1, step.Correction2, parameters, gradients, firstMoment, secondMoment, trainable);
    }

    public void Sdlm(AcceleratorStream stream, SdlmStep step, ArrayView<float> parameters, ArrayView<float> gradients,
        ArrayView<float> hessian, ArrayView<float> trainable, int threads = 0)
    {
        int length = (int)parameters.Length;
        threads = threads > 0 ? threads : grid.ThreadsFor(length);
        sdlm(stream, threads, length, threads, step.LearningRate, step.Mu, step.WeightDecay, parameters, gradients, hessian, trainable);
    }

    /// <summary>target ← target + scale · source, over all of <paramref name="source"/>.</summary>
    public void Accumulate(AcceleratorStream stream, float scale, ArrayView<float> source, ArrayView<float> target, int threads = 0)
    {
        int length = (int)source.Length;
        threads = threads > 0 ? threads : grid.ThreadsFor(length);
        accumulate(stream, threads, length, threads, scale, source, target);
    }
}

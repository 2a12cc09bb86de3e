using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The squashing functions on the device, and the kernel that turns the gradient of a layer's output into the
/// gradient of its weighted sum. Activation codes are <see cref="Model.Activation"/>: 0 identity,
/// 1 f(a) = 1.7159·tanh(2a/3), 2 logistic sigmoid. Derivatives are taken from the output y, so a forward pass
/// keeps only outputs:
/// <code>
/// scaled tanh: f'(a) = (2/3)/1.7159 · (1.7159² − y²)      sigmoid: f'(a) = y(1 − y)
/// </code>
/// </summary>
public static class Squash
{
    public const float A = Model.ScaledTanh.Amplitude, S = Model.ScaledTanh.Slope;

    // The int codes kernels receive: (int) of Model.Activation.
    private const int ScaledTanh = (int)Model.Activation.ScaledTanh, Sigmoid = (int)Model.Activation.Sigmoid;
    public const int Identity = (int)Model.Activation.Identity;

    public static float Apply(float a, int activation) => activation switch
    {
        ScaledTanh => A * Tanh(S * a),
        Sigmoid => 1f / (1f + XMath.Exp(-a)),
        _ => a,
    };

    /// <summary>
    /// tanh from one exponential of a non-positive argument: it cannot overflow, and it avoids both PTX's
    /// <c>tanh.approx.f32</c> (relative error ≈ 2⁻¹¹, what XMath.Tanh becomes on sm_75+) and the
    /// (e^{2x} − 1)/(e^{2x} + 1) form that turns into ∞/∞ = NaN for large |x| on older GPUs.
    /// </summary>
    public static float Tanh(float x)
    {
        float e = XMath.Exp(-2f * XMath.Abs(x));
        float t = (1f - e) / (1f + e);
        return x < 0f ? -t : t;
    }

    public static float DerivativeFromOutput(float y, int activation) => activation switch
    {
        ScaledTanh => S / A * (A * A - y * y),
        Sigmoid => y * (1f - y),
        _ => 1f,
    };

    /// <summary>
    /// grad ← grad · f'(a), in place: dE/dy becomes dE/da. In second-order mode (the Hessian diagonal of the
    /// paper's Levenberg–Marquardt method, Gauss–Newton approximation) grad ← grad · f'(a)².
    /// Shape: y, grad [Maps][Size][Size][Stride]. One thread per (map, image), looping over the map's pixels.
    /// </summary>
    public static void Backward(Index1D index, BatchShape shape, int activation, int secondOrder,
        ArrayView<float> output, ArrayView<float> gradient)
    {
        int n = index % shape.Count, m = index / shape.Count;
        int pixels = shape.Pixels;
        for (int p = 0; p < pixels; p++)
        {
            int at = (m * pixels + p) * shape.Stride + n;
            float d = DerivativeFromOutput(output[at], activation);
            gradient[at] *= secondOrder != 0 ? d * d : d;
        }
    }
}

/// <summary><see cref="Squash.Backward"/> loaded for one accelerator.</summary>
public sealed class SquashLaunches(Accelerator accelerator)
{
    private readonly Action<AcceleratorStream, Index1D, BatchShape, int, int, ArrayView<float>, ArrayView<float>> backward =
        accelerator.LoadAutoGroupedKernel<Index1D, BatchShape, int, int, ArrayView<float>, ArrayView<float>>(Squash.Backward);

    /// <summary>gradient ← gradient · f'(a) (second order: · f'(a)²), in place; one thread per (map, image).</summary>
    public void Backward(AcceleratorStream stream, BatchShape shape, Model.Activation activation, GradientOrder order,
        ArrayView<float> output, ArrayView<float> gradient) =>
        backward(stream, shape.MapThreads, shape, (int)activation, (int)order, output, gradient);
}

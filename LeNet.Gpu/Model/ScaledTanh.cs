namespace LeNet.Gpu.Model;

/// <summary>
/// The paper's squashing function f(a) = A·tanh(S·a), A = 1.7159, S = 2/3 (its Appendix A): f(±1) = ±1, and the
/// gain is near 1 there. Every engine takes its constants from here, so they squash alike.
/// </summary>
public static class ScaledTanh
{
    public const float Amplitude = 1.7159f, Slope = 2f / 3f;
}

using LeNet.Gpu.Cpu;

namespace LeNet.Gpu;

/// <summary>
/// What the command line's bench needs of the CPU engine's FMA ceiling (<see cref="FmaCeiling"/>), behind the factory's
/// level so that the command line names no engine's types.
/// </summary>
public static class MachineFloor
{
    /// <summary>How the ceiling is measured here, in words: vector width and independent chains a thread.</summary>
    public static string Vectors => $"{(int)FmaCeiling.Width}-bit vectors, {FmaCeiling.Chains} chains a thread";

    /// <summary>
    /// <paramref name="call"/> (<paramref name="imagesPerCall"/> images a call) and the FMA ceiling on every processor, in
    /// <paramref name="rounds"/> interleaved rounds of about <paramref name="roundSeconds"/> each: the call's median
    /// images/s, the ceiling's median multiply-adds/s, and the share of the floor (the ceiling over
    /// <paramref name="multiplyAddsPerImage"/>) the call reaches.
    /// </summary>
    public static (double ImagesPerSecond, double Ceiling, double Share) Measure(Action call, int imagesPerCall,
        long multiplyAddsPerImage, int rounds, double roundSeconds)
    {
        var measured = FmaCeiling.Interleave([() => FmaCeiling.ImagesPerSecond(call, imagesPerCall, roundSeconds)],
            rounds, Environment.ProcessorCount, roundSeconds);
        return (measured.WorkMedian(0), measured.CeilingMedian, measured.Share(0, multiplyAddsPerImage));
    }
}

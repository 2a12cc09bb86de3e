using ILGPU.Algorithms;

namespace LeNet.Gpu.Model;

/// <summary>
/// One image's random affine distortion, shared by the device kernel and the CPU engine so both distort alike:
/// parameters drawn from a counter-based hash of (seed, epoch, image), and the map from an output pixel back to
/// the source position (bilinear weights fx, fy between source pixels x0..x0+1, y0..y0+1).
/// </summary>
public readonly struct AffineDistortion
{
    public const float Centre = (InputField.Size - 1) * 0.5f;
    private readonly float sx, sy, shear, tx, ty, mirror;

    private AffineDistortion(float sx, float sy, float shear, float tx, float ty, float mirror)
    {
        this.sx = sx; this.sy = sy; this.shear = shear; this.tx = tx; this.ty = ty; this.mirror = mirror;
    }

    public static AffineDistortion For(DistortionArgs d, int source)
    {
        uint key = Hash((uint)d.Seed * 0x9E3779B9u ^ Hash((uint)d.Epoch * 0x85EBCA6Bu ^ Hash((uint)source)));
        float scale = 1f + d.MaxScale * Uniform(key, 1), squeeze = 1f + d.MaxSqueeze * Uniform(key, 2);
        float mirror = d.Mirror != 0 && Uniform(key, 6) < 0f ? -1f : 1f;
        return new AffineDistortion(scale * squeeze, scale / squeeze, d.MaxShear * Uniform(key, 3),
            d.MaxShift * Uniform(key, 4), d.MaxShift * Uniform(key, 5), mirror);
    }

    /// <summary>Output → source: undo translation, then scale/squeeze and shear (x depends on y), then the mirror.</summary>
    public void SourceOf(int x, int y, out int x0, out int y0, out float fx, out float fy)
    {
        float v = (y - Centre - ty) / sy;
        float u = (x - Centre - tx) / sx - shear * v;
        float px = mirror * u + Centre, py = v + Centre;
        x0 = (int)XMath.Floor(px);
        y0 = (int)XMath.Floor(py);
        fx = px - x0;
        fy = py - y0;
    }

    /// <summary>A 32-bit integer mix (a "lowbias32" hash): a counter-based random source with no state.</summary>
    private static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }

    /// <summary>
    /// The k-th uniform number in [−1, 1) for a key. The 24 random bits go through int: an unsigned-to-float
    /// conversion is a double operation in IL (conv.r.un), which OpenCL devices without fp64 cannot compile.
    /// </summary>
    private static float Uniform(uint key, int k) => (int)(Hash(key + (uint)k * 0x632BE5ABu) >> 8) * (2f / 16777216f) - 1f;
}

/// <summary>How strongly <see cref="Kernels.InputKernels.GatherDistorted"/> distorts: each draw is uniform in ±max.</summary>
/// <param name="MaxShift">Translation in pixels.</param>
/// <param name="MaxScale">Relative change of size (0.1: 90%–110%).</param>
/// <param name="MaxSqueeze">Relative compression of one axis with stretching of the other.</param>
/// <param name="MaxShear">Horizontal shear, pixels of x per pixel of y.</param>
/// <param name="Mirror">1: mirror left–right with probability ½ (for classes that are symmetric, like clothes).</param>
public readonly record struct DistortionArgs(int Seed, int Epoch, float MaxShift, float MaxScale, float MaxSqueeze, float MaxShear, int Mirror = 0);

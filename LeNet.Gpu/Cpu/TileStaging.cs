using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Brings a tile's images into the tile layout (<see cref="TileLayout"/>): image-major input [valid][…] →
/// tile [1024][L]. Lanes past the batch get zeros so they stay finite.
/// </summary>
internal static unsafe class TileStaging<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;

    /// <summary>
    /// Images [valid][1024] → tile [1024][L], in blocks of eight images × eight elements turned over in AVX registers
    /// where the tile has 8 or 16 lanes, else of four × four (SSE's 4×4 transpose: four loads, eight shuffles, four
    /// stores for sixteen floats), or float by float where SSE is absent. Lanes past <paramref name="valid"/> get zeros. Only moves floats: the bits are the images'.
    /// </summary>
    public static void Floats(float* source, int valid, float* tile)
    {
        if (Avx.IsSupported && L % 8 == 0)
        {
            FloatsByEights(source, valid, tile);
            return;
        }
        if (!Sse.IsSupported)
        {
            FloatsOneByOne(source, valid, tile);
            return;
        }
        float* zero = stackalloc float[4] { 0f, 0f, 0f, 0f };
        for (int n = 0; n < L; n += 4)
        {
            // Images n..n+3; those past the batch read the same four zeros over and over.
            float* s0 = n < valid ? source + n * Architecture.InputLength : zero;
            float* s1 = n + 1 < valid ? source + (n + 1) * Architecture.InputLength : zero;
            float* s2 = n + 2 < valid ? source + (n + 2) * Architecture.InputLength : zero;
            float* s3 = n + 3 < valid ? source + (n + 3) * Architecture.InputLength : zero;
            int step0 = n < valid ? 4 : 0, step1 = n + 1 < valid ? 4 : 0, step2 = n + 2 < valid ? 4 : 0, step3 = n + 3 < valid ? 4 : 0;
            float* d = tile + n;
            for (int e = 0; e < Architecture.InputLength; e += 4, s0 += step0, s1 += step1, s2 += step2, s3 += step3, d += 4 * L)
            {
                Vector128<float> r0 = Sse.LoadVector128(s0), r1 = Sse.LoadVector128(s1), r2 = Sse.LoadVector128(s2), r3 = Sse.LoadVector128(s3);
                Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackLow(r2, r3), t2 = Sse.UnpackHigh(r0, r1), t3 = Sse.UnpackHigh(r2, r3);
                Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
                Sse.Store(d + L, Sse.MoveHighToLow(t1, t0));
                Sse.Store(d + 2 * L, Sse.MoveLowToHigh(t2, t3));
                Sse.Store(d + 3 * L, Sse.MoveHighToLow(t3, t2));
            }
        }
    }

    /// <summary>
    /// <see cref="Floats"/> in blocks of eight images × eight elements turned over in AVX registers (eight loads, 24
    /// shuffles, eight stores for 64 floats; the 4×4 blocks take 64 instructions for the same): tiles of 8 or 16 lanes.
    /// </summary>
    private static void FloatsByEights(float* source, int valid, float* tile)
    {
        float* zero = stackalloc float[8] { 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f };
        for (int n = 0; n < L; n += 8)
        {
            // Images n..n+7; those past the batch read the same eight zeros over and over.
            float* Image(int k) => n + k < valid ? source + (long)(n + k) * Architecture.InputLength : zero;
            int Step(int k) => n + k < valid ? 8 : 0;
            float* s0 = Image(0), s1 = Image(1), s2 = Image(2), s3 = Image(3), s4 = Image(4), s5 = Image(5), s6 = Image(6), s7 = Image(7);
            int p0 = Step(0), p1 = Step(1), p2 = Step(2), p3 = Step(3), p4 = Step(4), p5 = Step(5), p6 = Step(6), p7 = Step(7);
            float* d = tile + n;
            for (int e = 0; e < Architecture.InputLength; e += 8, d += 8 * L)
            {
                Vector256<float> r0 = Avx.LoadVector256(s0), r1 = Avx.LoadVector256(s1), r2 = Avx.LoadVector256(s2), r3 = Avx.LoadVector256(s3);
                Vector256<float> r4 = Avx.LoadVector256(s4), r5 = Avx.LoadVector256(s5), r6 = Avx.LoadVector256(s6), r7 = Avx.LoadVector256(s7);
                s0 += p0; s1 += p1; s2 += p2; s3 += p3; s4 += p4; s5 += p5; s6 += p6; s7 += p7;
                // Pairs of images interleaved, then quadruples, then the 128-bit halves swapped across.
                Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
                Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
                Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
                Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
                Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
                Avx.Store(d + L, Avx.Permute2x128(u1, u5, 0x20));
                Avx.Store(d + 2 * L, Avx.Permute2x128(u2, u6, 0x20));
                Avx.Store(d + 3 * L, Avx.Permute2x128(u3, u7, 0x20));
                Avx.Store(d + 4 * L, Avx.Permute2x128(u0, u4, 0x31));
                Avx.Store(d + 5 * L, Avx.Permute2x128(u1, u5, 0x31));
                Avx.Store(d + 6 * L, Avx.Permute2x128(u2, u6, 0x31));
                Avx.Store(d + 7 * L, Avx.Permute2x128(u3, u7, 0x31));
            }
        }
    }

    /// <summary>
    /// <see cref="Floats"/> without SSE. Image by image: contiguous reads, stores one vector apart (reading across
    /// images, 4 KB apart, is half as fast).
    /// </summary>
    private static void FloatsOneByOne(float* source, int valid, float* tile)
    {
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            if (n >= valid)
            {
                for (int e = 0; e < Architecture.InputLength; e++) d[e * L] = 0f;
                continue;
            }
            float* s = source + n * Architecture.InputLength;
            for (int e = 0; e < Architecture.InputLength; e += 4)
            {
                d[e * L] = s[e];
                d[(e + 1) * L] = s[e + 1];
                d[(e + 2) * L] = s[e + 2];
                d[(e + 3) * L] = s[e + 3];
            }
        }
    }

    /// <summary>
    /// MNIST bytes [valid][28·28] → tile [1024][L] by the input rule every engine uses (<see cref="InputField.Mnist"/>):
    /// a 2-pixel border of background, ink v → −0.1 + 1.275·v/255.
    /// </summary>
    public static void Mnist(byte* source, int valid, float* tile)
    {
        var bytes = new HostInkBytes(source);
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            int image = n * InputField.MnistLength;
            for (int y = 0; y < InputField.Size; y++)
                for (int x = 0; x < InputField.Size; x++)
                    d[(y * InputField.Size + x) * L] = n >= valid ? 0f : InputField.Mnist(bytes, image, x, y);
        }
    }
}

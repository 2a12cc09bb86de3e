namespace LeNet.Gpu.Model;

/// <summary>What the network's last layer is. It belongs to the model and is stored in its file.</summary>
public enum OutputLayer
{
    /// <summary>A trainable dense layer 84 → 10 and a softmax, trained by cross-entropy (the default).</summary>
    Softmax = 0,

    /// <summary>
    /// The paper's ten Euclidean RBF units y_i = Σ_j (x_j − w_ij)² over F6's 84 outputs, their centres fixed ±1 codes
    /// (<see cref="RbfCodes"/>), trained by the MAP criterion. Probabilities are softmax(−y).
    /// </summary>
    Rbf = 1,
}

public static class OutputLayerExtensions
{
    /// <summary>The name used in files and on the command line.</summary>
    public static string ToName(this OutputLayer output) => output switch
    {
        OutputLayer.Softmax => "softmax",
        OutputLayer.Rbf => "rbf",
        _ => throw new ArgumentOutOfRangeException(nameof(output), output, "unknown output layer"),
    };

    public static OutputLayer ParseOutputLayer(string name) => EnumNames.Parse(name, "output layer",
        ("softmax", OutputLayer.Softmax), ("rbf", OutputLayer.Rbf));
}

/// <summary>
/// The RBF units' centres: for each digit a stylised 7×12 bitmap, one F6 unit per pixel (unit j is row j / 7,
/// column j % 7), +1 for ink (#) and −1 for background (.), as the paper's Fig. 3 draws them. The paper prints its
/// bitmaps only as a figure; these are drawn here after it. A centre of ±1 puts each F6 unit where the scaled tanh
/// bends most, away from saturation (the paper's reason), and similar digits get similar codes, which is why the
/// paper prefers bitmaps to a 1-of-N code.
/// </summary>
public static class RbfCodes
{
    public const int Width = 7, Height = 12, Length = Width * Height;

    //                     0          1          2          3          4          5          6          7          8          9
    private static readonly string[] Bitmaps =
    [
        "......." + "......." + "......." + "......." + "......." + "......." + "......." + "......." + "......." + ".......",
        "..###.." + "...#..." + "..###.." + ".####.." + ".....#." + "#######" + "..###.." + "#######" + "..###.." + "..###..",
        ".#...#." + "..##..." + ".#...#." + "#....#." + "....##." + "#......" + ".#....." + "......#" + ".#...#." + ".#...#.",
        "#.....#" + ".#.#..." + "#.....#" + "......#" + "...#.#." + "#......" + "#......" + ".....#." + "#.....#" + "#.....#",
        "#.....#" + "...#..." + "......#" + ".....#." + "..#..#." + "#.###.." + "#......" + ".....#." + ".#...#." + "#.....#",
        "#.....#" + "...#..." + ".....#." + "..###.." + ".#...#." + "##...#." + "#.###.." + "....#.." + "..###.." + ".#...##",
        "#.....#" + "...#..." + "....#.." + ".....#." + "#....#." + "......#" + "##...#." + "....#.." + ".#...#." + "..###.#",
        "#.....#" + "...#..." + "...#..." + "......#" + "#######" + "......#" + "#.....#" + "...#..." + "#.....#" + "......#",
        "#.....#" + "...#..." + "..#...." + "......#" + ".....#." + "......#" + "#.....#" + "...#..." + "#.....#" + ".....#.",
        ".#...#." + "...#..." + ".#....." + "#....#." + ".....#." + "#....#." + ".#...#." + "..#...." + ".#...#." + "....#..",
        "..###.." + ".#####." + "#######" + ".####.." + ".....#." + ".####.." + "..###.." + "..#...." + "..###.." + ".###...",
        "......." + "......." + "......." + "......." + "......." + "......." + "......." + "......." + "......." + ".......",
    ];

    /// <summary>The pixel of digit <paramref name="digit"/>'s bitmap at (row, column): true for ink.</summary>
    public static bool IsInk(int digit, int row, int column) => Bitmaps[row][digit * Width + column] == '#';

    /// <summary>The ten centres, row-major [10][84] (digit, then F6 unit), each entry +1 or −1.</summary>
    public static float[] Create()
    {
        var codes = new float[Architecture.Classes * Length];
        for (int digit = 0; digit < Architecture.Classes; digit++)
            for (int j = 0; j < Length; j++)
                codes[digit * Length + j] = IsInk(digit, j / Width, j % Width) ? 1f : -1f;
        return codes;
    }
}

namespace LeNet.Gpu.Model;

/// <summary>
/// Which S2 feature maps feed each C3 feature map: Table I of LeCun et al. (1998), written as in the paper,
/// one row per S2 map (0–5) and one column per C3 map (0–15); an X marks a connection.
/// </summary>
public static class ConnectionTable
{
    //                                        C3 map: 0123456789012345
    private static readonly string[] PaperTable =
    [
        /* S2 map 0 */ "X...XXX..XXXX.XX",
        /* S2 map 1 */ "XX...XXX..XXXX.X",
        /* S2 map 2 */ "XXX...XXX..X.XXX",
        /* S2 map 3 */ ".XXX..XXXX..X.XX",
        /* S2 map 4 */ "..XXX..XXXX.XX.X",
        /* S2 map 5 */ "...XXX..XXXX.XXX",
    ];

    public const int InputMaps = Architecture.S2Maps;
    public const int OutputMaps = Architecture.C3Maps;

    /// <summary>True when S2 map <paramref name="input"/> feeds C3 map <paramref name="output"/>.</summary>
    public static bool IsConnected(int output, int input) => PaperTable[input][output] == 'X';

    /// <summary>The S2 maps feeding C3 map <paramref name="output"/>, ascending.</summary>
    public static int[] InputsOf(int output) =>
        Enumerable.Range(0, InputMaps).Where(i => IsConnected(output, i)).ToArray();

    /// <summary>The mask as stored on the device: [16 C3 maps][6 S2 maps], 1 where connected, else 0.</summary>
    public static int[] ToMask()
    {
        var mask = new int[OutputMaps * InputMaps];
        for (int o = 0; o < OutputMaps; o++)
            for (int i = 0; i < InputMaps; i++)
                mask[o * InputMaps + i] = IsConnected(o, i) ? 1 : 0;
        return mask;
    }
}

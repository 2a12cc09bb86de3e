namespace LeNet.Gpu.Model;

/// <summary>
/// How every option name in files and on the command line is read back: trimmed, in any case, among a list of names;
/// an unknown name is refused naming what it should have been.
/// </summary>
public static class EnumNames
{
    /// <summary>
    /// The value <paramref name="text"/> names among <paramref name="names"/>. A value may have several names (aliases);
    /// the error lists only the first of each, in the order given.
    /// </summary>
    /// <param name="what">What is named, for the error: "unknown {what} 'x' (expected a, b or c)".</param>
    /// <exception cref="ArgumentException">No name matches.</exception>
    public static T Parse<T>(string text, string what, params (string Name, T Value)[] names)
    {
        string key = text.Trim().ToLowerInvariant();
        foreach (var (name, value) in names)
            if (name == key) return value;
        var expected = names.DistinctBy(n => n.Value).Select(n => n.Name).ToList();
        string list = expected.Count == 1 ? expected[0] : $"{string.Join(", ", expected[..^1])} or {expected[^1]}";
        throw new ArgumentException($"unknown {what} '{text}' (expected {list})");
    }

    /// <summary>The value of an enum whose names are its members' in lower case (<c>sgd</c>, <c>cosine</c>).</summary>
    public static T Parse<T>(string text, string what) where T : struct, Enum =>
        Parse(text, what, Enum.GetValues<T>().Select(v => (Lower(v), v)).ToArray());

    /// <summary>The name of a member of such an enum.</summary>
    public static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}

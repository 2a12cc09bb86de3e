namespace LeNet.Gpu.Tests.Support;

/// <summary>The dotnet host running these tests, for the processes the tests start through it.</summary>
public static class Dotnet
{
    /// <summary>The SDK tells test hosts which dotnet runs them; outside <c>dotnet test</c>, the one on PATH.</summary>
    public static string HostPath => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    /// <summary>
    /// The folder holding that dotnet (links resolved), which an app host such as an installed tool's <c>lenet</c>
    /// needs as <c>DOTNET_ROOT</c> when .NET is not where app hosts look by default; null outside <c>dotnet test</c>.
    /// </summary>
    public static string? Root
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is not { Length: > 0 } host) return null;
            var target = File.ResolveLinkTarget(host, returnFinalTarget: true)?.FullName ?? host;
            return Path.GetDirectoryName(target);
        }
    }
}

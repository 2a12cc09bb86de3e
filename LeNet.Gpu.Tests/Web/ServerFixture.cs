using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;

namespace LeNet.Gpu.Tests.Web;

/// <summary>
/// One <c>lenet serve</c> on the CPU for the API tests, with a model made here (random weights, fixed seed): the
/// API's shapes, errors and concurrency do not depend on a trained model, and no shipped model is needed.
/// </summary>
public sealed class ServerFixture : IDisposable
{
    private readonly TempDirectory temp = new();

    public const string ModelFileName = "api-test.safetensors";

    public ServeProcess Server { get; }

    public HttpClient Client { get; }

    public ServerFixture()
    {
        string model = temp.File(ModelFileName);
        ModelFile.Save(LeNetModel.CreateRandom(seed: 5), model);
        Server = new ServeProcess(model);
        Client = new HttpClient { BaseAddress = Server.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
        temp.Dispose();
    }
}

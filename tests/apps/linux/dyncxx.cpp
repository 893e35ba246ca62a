// A dynamically linked C++ program: libstdc++ and libgcc_s through the
// dynamic linker, exceptions thrown across threads (std::async), iostream,
// containers, static constructors.
#include <future>
#include <iostream>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::map<std::string, int> table = {{"one", 1}, {"two", 2}, {"three", 3}};

static long work(int i)
{
    if (i == 3)
        throw std::runtime_error("worker " + std::to_string(i) + " failed");
    std::vector<long> v(1000 * (i + 1));
    std::iota(v.begin(), v.end(), 1);
    return std::accumulate(v.begin(), v.end(), 0L);
}

int main()
{
    std::cout << "static table: " << table.size() << " entries, two=" << table["two"] << std::endl;
    std::vector<std::future<long>> futures;
    for (int i = 0; i < 5; i++)
        futures.push_back(std::async(std::launch::async, work, i));
    for (size_t i = 0; i < futures.size(); i++) {
        try {
            std::cout << "thread " << i << ": " << futures[i].get() << std::endl;
        } catch (const std::exception &e) {
            std::cout << "thread " << i << " threw: " << e.what() << std::endl;
        }
    }
    std::thread t([] { std::cout << "a std::thread ran" << std::endl; });
    t.join();
    try {
        throw std::out_of_range("caught in main");
    } catch (const std::logic_error &e) {
        std::cout << "exception: " << e.what() << std::endl;
    }
    return 0;
}

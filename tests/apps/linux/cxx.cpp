// C++: iostream, std::string, containers, exceptions, static constructors.
#include <algorithm>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

static std::string made_early = std::string("static ") + "constructor";

int main(int argc, char **argv)
{
    std::vector<std::string> words(argv + 1, argv + argc);
    std::sort(words.begin(), words.end());
    std::map<std::string, int> counts;
    for (auto &w : words)
        counts[w]++;
    std::cout << made_early << " ran" << std::endl;
    for (auto &[w, n] : counts)
        std::cout << w << ":" << n << std::endl;
    try {
        throw std::runtime_error("thrown and caught");
    } catch (const std::exception &e) {
        std::cout << "exception " << e.what() << std::endl;
    }
    return static_cast<int>(counts.size());
}

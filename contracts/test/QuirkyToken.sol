// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title QuirkyToken (test only)
/// @notice An ERC-20 with the quirks real tokens have: an optional fee on every transfer (burnt,
///         so the receiver gets less than was sent) and, optionally, no return value from
///         `transfer`/`transferFrom`/`approve` (like USDT). Proves the protocol's SafeERC20 use
///         and balance-delta accounting.
contract QuirkyToken {
    string public constant name = "Quirky Token";
    string public constant symbol = "QRK";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// @notice Fee in basis points taken from every transfer.
    uint256 public immutable feeBps;
    /// @notice Whether the ERC-20 functions return `true` (false: they return nothing).
    bool public immutable returnsBool;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(uint256 feeBps_, bool returnsBool_) {
        feeBps = feeBps_;
        returnsBool = returnsBool_;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        _return();
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
        _return();
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        _return();
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        uint256 fee = (amount * feeBps) / 10_000;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
        emit Transfer(from, to, amount - fee);
        if (fee > 0) emit Transfer(from, address(0), fee);
    }

    function _return() private view {
        if (returnsBool) {
            assembly {
                mstore(0, 1)
                return(0, 32)
            }
        }
    }
}

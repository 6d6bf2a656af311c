// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title FairToken
/// @notice The ERC-20 used by the embedded chain and the tests (18 decimals, EIP-2612 permit).
///         On a real chain any ERC-20 (for example a stablecoin) can be a pool's token.
contract FairToken is ERC20, ERC20Permit, Ownable {
    /// @notice The deployer becomes the owner, the only account allowed to mint.
    constructor() ERC20("Fairwheel Token", "FAIR") ERC20Permit("Fairwheel Token") Ownable(msg.sender) {}

    /// @notice Mint `amount` new tokens to `to`.
    /// @param to Receiver of the new tokens.
    /// @param amount Amount in token units (18 decimals).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
